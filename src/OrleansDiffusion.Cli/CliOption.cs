using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace OrleansDiffusion.Cli;

/// <summary>Typed options whose parse errors name the option and the expected form ("--steps: expected an integer,
/// got 'abc'") instead of a .NET type, and enums whose help and parser use the same lower-case spellings.</summary>
internal static class CliOption
{
    public static Option<int> Int(string name, string description, int defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue, CustomParser = r => ParseInt(r) ?? defaultValue };

    public static Option<int?> OptionalInt(string name, string description) =>
        new(name) { Description = description, CustomParser = ParseInt };

    public static Option<long> Long(string name, string description, long defaultValue) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => Parse<long>(r, "an integer", s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null) ?? defaultValue,
        };

    public static Option<double> Double(string name, string description, double defaultValue) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => Parse<double>(r, "a number", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null) ?? defaultValue,
        };

    /// <summary>An enum option shown and parsed as its lower-case member names (<c>none|average|...</c>); absent is null,
    /// so the caller picks the default (named in <paramref name="description"/>).</summary>
    public static Option<T?> Enum<T>(string name, string description)
        where T : struct, System.Enum
    {
        var spellings = System.Enum.GetValues<T>().ToDictionary(Spelling, v => v, StringComparer.OrdinalIgnoreCase);
        return new Option<T?>(name)
        {
            Description = description,
            HelpName = string.Join("|", spellings.Keys),
            CustomParser = r => Parse<T>(r, $"one of {string.Join(", ", spellings.Keys)}", s => spellings.TryGetValue(s, out var v) ? v : null),
        };
    }

    /// <summary>How <see cref="Enum{T}"/> spells a value on the command line and in JSON.</summary>
    public static string Spelling<T>(T value)
        where T : struct, System.Enum => value.ToString().ToLowerInvariant();

    private static int? ParseInt(ArgumentResult result) =>
        Parse<int>(result, "an integer", s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null);

    private static T? Parse<T>(ArgumentResult result, string expected, Func<string, T?> parse)
        where T : struct
    {
        if (result.Tokens.Count == 0) return null;
        var text = result.Tokens[^1].Value;
        if (parse(text) is { } value) return value;
        var option = (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
        result.AddError($"{option}: expected {expected}, got '{CliText.Printable(text)}'");
        return null;
    }
}
