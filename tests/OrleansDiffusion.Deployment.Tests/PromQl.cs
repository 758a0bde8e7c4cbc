using System.Text.RegularExpressions;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// Just enough PromQL reading for the dashboard checks: the metric names and grouping labels of an
/// expression. (Syntax itself is checked by promtool.)
/// </summary>
internal static partial class PromQl
{
    private static readonly HashSet<string> Keywords =
    [
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
        "offset", "inf", "nan",
    ];

    public static IReadOnlySet<string> MetricNames(string expression)
    {
        var text = StringLiteral().Replace(expression, "\"\"");
        text = LabelMatchers().Replace(text, " ");
        text = RangeOrSubquery().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        var names = new HashSet<string>();
        foreach (Match m in Identifier().Matches(text))
        {
            var rest = text.AsSpan(m.Index + m.Length).TrimStart();
            var isCall = rest.Length > 0 && rest[0] == '(';
            if (!isCall && !Keywords.Contains(m.Value))
            {
                names.Add(m.Value);
            }
        }

        return names;
    }

    public static IReadOnlySet<string> GroupingLabels(string expression)
    {
        var labels = new HashSet<string>();
        foreach (Match m in Grouping().Matches(StringLiteral().Replace(expression, "\"\"")))
        {
            foreach (var label in m.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                labels.Add(label);
            }
        }

        return labels;
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?<labels>[^)]*)\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w$.:])[A-Za-z_:][A-Za-z0-9_:]*")]
    private static partial Regex Identifier();
}
