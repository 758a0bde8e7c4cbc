using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The part of Go's text/template and Helm's function library (sprig plus include/toYaml) that the chart uses,
/// so the tests render the chart's templates into objects instead of reading template text. Unknown functions,
/// unbalanced blocks and field access on nil fail, as they do in helm.
/// </summary>
internal sealed class GoTemplate
{
    private readonly Dictionary<string, List<Node>> _templates = new(StringComparer.Ordinal);

    /// <summary>Every <c>.Values.a.b</c> chain the parsed templates reference, as "a.b".</summary>
    public HashSet<string> ValuePaths { get; } = [];

    /// <summary>Answers helm's <c>lookup</c>; null (an empty dict) as in <c>helm template</c>.</summary>
    public Func<string, string, string, string, object?>? Lookup { get; init; }

    /// <summary>Parses a file: its defines become named templates, and its body the template named <paramref name="name"/>.</summary>
    public void Add(string name, string text) => _templates[name] = new Parser(text, this).ParseAll();

    public string Execute(string name, object? data)
    {
        var output = new StringBuilder();
        new Scope(this, data, data, null).Run(Template(name), output);
        return output.ToString();
    }

    private List<Node> Template(string name) =>
        _templates.TryGetValue(name, out var nodes) ? nodes : throw new InvalidOperationException($"no template \"{name}\"");

    // ---- syntax -------------------------------------------------------------------------------------------

    private abstract record Node;

    private sealed record TextNode(string Text) : Node;

    private sealed record OutputNode(Pipeline Pipe) : Node;

    private sealed record IfNode(Pipeline Cond, List<Node> Then, List<Node>? Else) : Node;

    private sealed record WithNode(Pipeline Value, List<Node> Body, List<Node>? Else) : Node;

    private sealed record RangeNode(string? KeyVar, string? ValueVar, Pipeline Value, List<Node> Body, List<Node>? Else) : Node;

    private sealed record TemplateCallNode(string Name, Pipeline? Arg) : Node;

    private sealed record Pipeline(string? Variable, bool Declare, List<List<Operand>> Commands);

    private abstract record Operand;

    private sealed record Literal(object? Value) : Operand;

    private sealed record Function(string Name) : Operand;

    /// <summary><c>.a.b</c> (Root null), <c>$.a</c> (Root "$"), <c>$x.a</c> (Root "$x").</summary>
    private sealed record Field(string? Root, string[] Path) : Operand;

    private sealed record SubPipeline(Pipeline Pipe) : Operand;

    private sealed class Parser(string text, GoTemplate owner)
    {
        private readonly List<(bool IsText, string Value)> _items = Split(text);
        private int _next;

        public List<Node> ParseAll()
        {
            var nodes = ParseList(out var stop);
            if (stop is not null)
            {
                throw new FormatException($"unexpected {{{{{stop}}}}}");
            }

            return nodes;
        }

        /// <summary>Parses until end/else (returned in <paramref name="stop"/>) or the end of input.</summary>
        private List<Node> ParseList(out string? stop)
        {
            var nodes = new List<Node>();
            while (_next < _items.Count)
            {
                var (isText, value) = _items[_next++];
                if (isText)
                {
                    nodes.Add(new TextNode(value));
                    continue;
                }

                var tokens = Lexer.Tokens(value);
                if (tokens.Count == 0)
                {
                    continue;
                }

                switch (tokens[0])
                {
                    case "end":
                    case "else":
                        stop = value.Trim();
                        return nodes;
                    case "if":
                        nodes.Add(ParseIf(tokens[1..]));
                        break;
                    case "with":
                    {
                        var body = ParseList(out var s);
                        var otherwise = ParseElse(s);
                        nodes.Add(new WithNode(ParsePipeline(tokens[1..]), body, otherwise));
                        break;
                    }

                    case "range":
                    {
                        string? key = null, val = null;
                        var rest = tokens[1..];
                        var assign = rest.IndexOf(":=");
                        if (assign > 0)
                        {
                            var vars = rest[..assign].Where(t => t != ",").ToList();
                            (key, val) = vars.Count == 2 ? (vars[0], vars[1]) : (null, vars[0]);
                            rest = rest[(assign + 1)..];
                        }

                        var body = ParseList(out var s);
                        nodes.Add(new RangeNode(key, val, ParsePipeline(rest), body, ParseElse(s)));
                        break;
                    }

                    case "define":
                    {
                        var name = (string)Lexer.Operand(tokens[1], owner).As<Literal>().Value!;
                        var body = ParseList(out var s);
                        Expect(s, "end");
                        owner._templates[name] = body;
                        break;
                    }

                    case "template":
                        nodes.Add(new TemplateCallNode((string)Lexer.Operand(tokens[1], owner).As<Literal>().Value!,
                            tokens.Count > 2 ? ParsePipeline(tokens[2..]) : null));
                        break;
                    case "block":
                    case "break":
                    case "continue":
                        throw new NotSupportedException($"{tokens[0]} is not supported by the test renderer");
                    default:
                        nodes.Add(new OutputNode(ParsePipeline(tokens)));
                        break;
                }
            }

            stop = null;
            return nodes;
        }

        private IfNode ParseIf(List<string> condition)
        {
            var then = ParseList(out var s);
            return new IfNode(ParsePipeline(condition), then, ParseElse(s));
        }

        private List<Node>? ParseElse(string? stop)
        {
            if (stop == "end")
            {
                return null;
            }

            var tokens = stop is null ? [] : Lexer.Tokens(stop);
            if (tokens is ["else"])
            {
                var otherwise = ParseList(out var s);
                Expect(s, "end");
                return otherwise;
            }

            if (tokens.Count > 2 && tokens[0] == "else" && tokens[1] == "if")
            {
                return [ParseIf(tokens[2..])];
            }

            throw new FormatException(stop is null ? "missing {{end}}" : $"unexpected {{{{{stop}}}}}");
        }

        private static void Expect(string? stop, string expected)
        {
            if (stop != expected)
            {
                throw new FormatException(stop is null ? $"missing {{{{{expected}}}}}" : $"unexpected {{{{{stop}}}}}");
            }
        }

        public Pipeline ParsePipeline(List<string> tokens)
        {
            string? variable = null;
            var declare = false;
            if (tokens.Count > 2 && tokens[0].StartsWith('$') && tokens[1] is ":=" or "=")
            {
                variable = tokens[0];
                declare = tokens[1] == ":=";
                tokens = tokens[2..];
            }

            var commands = new List<List<Operand>>();
            var current = new List<Operand>();
            for (var i = 0; i < tokens.Count; i++)
            {
                var token = tokens[i];
                if (token == "|")
                {
                    commands.Add(current);
                    current = [];
                }
                else if (token == "(")
                {
                    var depth = 1;
                    var j = i + 1;
                    for (; depth > 0; j++)
                    {
                        depth += tokens[j] == "(" ? 1 : tokens[j] == ")" ? -1 : 0;
                    }

                    current.Add(new SubPipeline(ParsePipeline(tokens[(i + 1)..(j - 1)])));
                    i = j - 1;
                }
                else
                {
                    current.Add(Lexer.Operand(token, owner));
                }
            }

            commands.Add(current);
            if (commands.Any(c => c.Count == 0))
            {
                throw new FormatException($"empty command in {string.Join(' ', tokens)}");
            }

            return new Pipeline(variable, declare, commands);
        }

        /// <summary>Text and actions, with <c>{{-</c>/<c>-}}</c> trimming applied and comments dropped.</summary>
        private static List<(bool, string)> Split(string text)
        {
            var items = new List<(bool, string)>();
            var position = 0;
            var trimNext = false;
            while (position <= text.Length)
            {
                var open = text.IndexOf("{{", position, StringComparison.Ordinal);
                var chunk = open < 0 ? text[position..] : text[position..open];
                if (trimNext)
                {
                    chunk = chunk.TrimStart(' ', '\t', '\r', '\n');
                }

                if (open < 0)
                {
                    items.Add((true, chunk));
                    break;
                }

                var start = open + 2;
                if (text.Length > start + 1 && text[start] == '-' && char.IsWhiteSpace(text[start + 1]))
                {
                    chunk = chunk.TrimEnd(' ', '\t', '\r', '\n');
                    start += 2;
                }

                items.Add((true, chunk));
                var close = FindClose(text, start);
                var end = close;
                trimNext = false;
                if (close >= 2 && text[close - 1] == '-' && char.IsWhiteSpace(text[close - 2]))
                {
                    trimNext = true;
                    end = close - 2;
                }

                var action = text[start..end].Trim();
                if (!(action.StartsWith("/*", StringComparison.Ordinal) && action.EndsWith("*/", StringComparison.Ordinal)))
                {
                    items.Add((false, action));
                }

                position = close + 2;
            }

            return items;
        }

        private static int FindClose(string text, int from)
        {
            char? quote = null;
            for (var i = from; i < text.Length - 1; i++)
            {
                var c = text[i];
                if (quote is not null)
                {
                    if (c == '\\' && quote == '"')
                    {
                        i++;
                    }
                    else if (c == quote)
                    {
                        quote = null;
                    }
                }
                else if (c is '"' or '`')
                {
                    quote = c;
                }
                else if (c == '}' && text[i + 1] == '}')
                {
                    return i;
                }
            }

            throw new FormatException("unclosed action");
        }
    }

    private static class Lexer
    {
        public static List<string> Tokens(string action)
        {
            var tokens = new List<string>();
            for (var i = 0; i < action.Length;)
            {
                var c = action[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                }
                else if (c is '(' or ')' or '|' or ',')
                {
                    tokens.Add(c.ToString());
                    i++;
                }
                else if (c == ':' && i + 1 < action.Length && action[i + 1] == '=')
                {
                    tokens.Add(":=");
                    i += 2;
                }
                else if (c == '=')
                {
                    tokens.Add("=");
                    i++;
                }
                else if (c is '"' or '`')
                {
                    var j = i + 1;
                    while (action[j] != c)
                    {
                        j += action[j] == '\\' && c == '"' ? 2 : 1;
                    }

                    tokens.Add(action[i..(j + 1)]);
                    i = j + 1;
                }
                else
                {
                    var j = i;
                    while (j < action.Length && !char.IsWhiteSpace(action[j]) && action[j] is not ('(' or ')' or '|' or ',' or '='))
                    {
                        if (action[j] == ':' && j + 1 < action.Length && action[j + 1] == '=')
                        {
                            break;
                        }

                        j++;
                    }

                    tokens.Add(action[i..j]);
                    i = j;
                }
            }

            return tokens;
        }

        public static Operand Operand(string token, GoTemplate owner)
        {
            switch (token)
            {
                case "true":
                    return new Literal(true);
                case "false":
                    return new Literal(false);
                case "nil":
                    return new Literal(null);
                case ".":
                    return new Field(null, []);
            }

            if (token[0] == '"')
            {
                return new Literal(System.Text.Json.JsonSerializer.Deserialize<string>(token));
            }

            if (token[0] == '`')
            {
                return new Literal(token[1..^1]);
            }

            if (char.IsDigit(token[0]) || (token[0] == '-' && token.Length > 1))
            {
                return long.TryParse(token, CultureInfo.InvariantCulture, out var l) ? new Literal(l) : new Literal(double.Parse(token, CultureInfo.InvariantCulture));
            }

            if (token[0] == '.')
            {
                var path = token[1..].Split('.');
                if (path.Length > 1 && path[0] == "Values")
                {
                    owner.ValuePaths.Add(string.Join('.', path[1..]));
                }

                return new Field(null, path);
            }

            if (token[0] == '$')
            {
                var parts = token.Split('.');
                return new Field(parts[0], parts[1..]);
            }

            return new Function(token);
        }
    }

    // ---- execution ----------------------------------------------------------------------------------------

    private sealed class Scope(GoTemplate owner, object? dot, object? root, Scope? parent)
    {
        private readonly Dictionary<string, object?> _variables = new();

        public object? Dot { get; } = dot;

        private object? Root { get; } = root;

        public void Run(List<Node> nodes, StringBuilder output)
        {
            foreach (var node in nodes)
            {
                switch (node)
                {
                    case TextNode t:
                        output.Append(t.Text);
                        break;
                    case OutputNode o:
                        var value = Evaluate(o.Pipe);
                        if (o.Pipe.Variable is null)
                        {
                            output.Append(Values.Print(value));
                        }

                        break;
                    case IfNode i:
                        var branch = Values.Truthy(Evaluate(i.Cond)) ? i.Then : i.Else;
                        if (branch is not null)
                        {
                            new Scope(owner, Dot, Root, this).Run(branch, output);
                        }

                        break;
                    case WithNode w:
                        var v = Evaluate(w.Value);
                        if (Values.Truthy(v))
                        {
                            new Scope(owner, v, Root, this).Run(w.Body, output);
                        }
                        else if (w.Else is not null)
                        {
                            new Scope(owner, Dot, Root, this).Run(w.Else, output);
                        }

                        break;
                    case RangeNode r:
                        RunRange(r, output);
                        break;
                    case TemplateCallNode c:
                        var data = c.Arg is null ? null : Evaluate(c.Arg);
                        new Scope(owner, data, data, null).Run(owner.Template(c.Name), output);
                        break;
                }
            }
        }

        private void RunRange(RangeNode r, StringBuilder output)
        {
            var items = Evaluate(r.Value) switch
            {
                null => [],
                List<object?> list => list.Select((v, i) => ((object?)(long)i, v)).ToList(),
                Dictionary<string, object?> map => map.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => ((object?)kv.Key, kv.Value)).ToList(),
                long n => Enumerable.Range(0, (int)n).Select(i => ((object?)(long)i, (object?)(long)i)).ToList(),
                var other => throw new InvalidOperationException($"range over {other.GetType().Name}"),
            };
            if (items.Count == 0)
            {
                if (r.Else is not null)
                {
                    new Scope(owner, Dot, Root, this).Run(r.Else, output);
                }

                return;
            }

            foreach (var (key, value) in items)
            {
                var scope = new Scope(owner, value, Root, this);
                if (r.KeyVar is not null)
                {
                    scope._variables[r.KeyVar] = key;
                }

                if (r.ValueVar is not null)
                {
                    scope._variables[r.ValueVar] = value;
                }

                scope.Run(r.Body, output);
            }
        }

        private object? Evaluate(Pipeline pipe)
        {
            object? value = null;
            var first = true;
            foreach (var command in pipe.Commands)
            {
                value = EvaluateCommand(command, first ? null : [value]);
                first = false;
            }

            if (pipe.Variable is not null)
            {
                if (pipe.Declare)
                {
                    _variables[pipe.Variable] = value;
                }
                else
                {
                    Owner(pipe.Variable)._variables[pipe.Variable] = value;
                }
            }

            return value;
        }

        private Scope Owner(string variable) =>
            _variables.ContainsKey(variable) ? this : parent?.Owner(variable) ?? throw new InvalidOperationException($"undefined variable {variable}");

        private object? EvaluateCommand(List<Operand> command, object?[]? piped)
        {
            if (command[0] is Function f)
            {
                if (f.Name is "and" or "or")
                {
                    // Short-circuit, as Go's and/or do.
                    object? last = null;
                    foreach (var operand in command.Skip(1))
                    {
                        last = EvaluateOperand(operand);
                        if (Values.Truthy(last) == (f.Name == "or"))
                        {
                            return last;
                        }
                    }

                    return piped is null ? last : piped[0];
                }

                var args = command.Skip(1).Select(EvaluateOperand).Concat(piped ?? []).ToArray();
                return Call(f.Name, args);
            }

            var head = EvaluateOperand(command[0]);
            if (head is Func<object?[], object?> method)
            {
                return method(command.Skip(1).Select(EvaluateOperand).Concat(piped ?? []).ToArray());
            }

            if (command.Count > 1 || piped is not null)
            {
                throw new InvalidOperationException("arguments given to a non-function");
            }

            return head;
        }

        private object? EvaluateOperand(Operand operand) => operand switch
        {
            Literal l => l.Value,
            SubPipeline s => Evaluate(s.Pipe),
            Field { Root: null } f => Values.Walk(Dot, f.Path),
            Field { Root: "$" } f => Values.Walk(Root, f.Path),
            Field f => Values.Walk(Variable(f.Root!), f.Path),
            Function fn => Call(fn.Name, []),
            _ => throw new InvalidOperationException($"operand {operand}"),
        };

        private object? Variable(string name) =>
            _variables.TryGetValue(name, out var v) ? v : parent is not null ? parent.Variable(name) : throw new InvalidOperationException($"undefined variable {name}");

        private object? Call(string name, object?[] a)
        {
            switch (name)
            {
                case "include":
                {
                    var output = new StringBuilder();
                    new Scope(owner, a[1], a[1], null).Run(owner.Template((string)a[0]!), output);
                    return output.ToString();
                }

                case "lookup":
                    return owner.Lookup?.Invoke(Values.Str(a[0]), Values.Str(a[1]), Values.Str(a[2]), Values.Str(a[3])) ?? new Dictionary<string, object?>();
                default:
                    return Functions.Call(name, a);
            }
        }
    }

    private static class Functions
    {
        public static object? Call(string name, object?[] a) => name switch
        {
            "toYaml" => Yaml.Write(a[0]).TrimEnd('\n'),
            "toJson" => System.Text.Json.JsonSerializer.Serialize(Values.ToPlain(a[0])),
            "nindent" => "\n" + Indent(Values.Int(a[0]), Values.Str(a[1])),
            "indent" => Indent(Values.Int(a[0]), Values.Str(a[1])),
            "quote" => string.Join(' ', a.Select(v => System.Text.Json.JsonSerializer.Serialize(Values.Print(v)))),
            "squote" => string.Join(' ', a.Select(v => $"'{Values.Print(v)}'")),
            "default" => a.Length > 1 && !Values.Empty(a[1]) ? a[1] : a[0],
            "empty" => Values.Empty(a[0]),
            "required" => Values.Empty(a[1]) && a[1] is not false and not 0L ? throw new InvalidOperationException((string)a[0]!) : a[1],
            "fail" => throw new InvalidOperationException((string)a[0]!),
            "printf" => Values.Sprintf((string)a[0]!, a[1..]),
            "print" => string.Concat(a.Select(Values.Print)),
            "trunc" => Values.Str(a[1]) is var s && s.Length > Values.Int(a[0]) ? s[..Values.Int(a[0])] : Values.Str(a[1]),
            "trimSuffix" => Values.Str(a[1]).EndsWith(Values.Str(a[0]), StringComparison.Ordinal) && a[0] is string { Length: > 0 } ? Values.Str(a[1])[..^Values.Str(a[0]).Length] : a[1],
            "trimPrefix" => Values.Str(a[1]).StartsWith(Values.Str(a[0]), StringComparison.Ordinal) ? Values.Str(a[1])[Values.Str(a[0]).Length..] : a[1],
            "trim" => Values.Str(a[0]).Trim(),
            "lower" => Values.Str(a[0]).ToLowerInvariant(),
            "upper" => Values.Str(a[0]).ToUpperInvariant(),
            "contains" => Values.Str(a[1]).Contains(Values.Str(a[0]), StringComparison.Ordinal),
            "hasPrefix" => Values.Str(a[1]).StartsWith(Values.Str(a[0]), StringComparison.Ordinal),
            "replace" => Values.Str(a[2]).Replace(Values.Str(a[0]), Values.Str(a[1]), StringComparison.Ordinal),
            "sha256sum" => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Values.Str(a[0])))),
            "b64enc" => Convert.ToBase64String(Encoding.UTF8.GetBytes(Values.Str(a[0]))),
            "b64dec" => Encoding.UTF8.GetString(Convert.FromBase64String(Values.Str(a[0]))),
            "randAlphaNum" => RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", Values.Int(a[0])),
            "dict" => Enumerable.Range(0, a.Length / 2).ToDictionary(i => Values.Str(a[2 * i]), i => a[(2 * i) + 1]),
            "list" => a.ToList(),
            "append" => ((List<object?>?)a[0] ?? []).Append(a[1]).ToList(),
            "until" => Enumerable.Range(0, Values.Int(a[0])).Select(i => (object?)(long)i).ToList(),
            "int" or "int64" => (long)Values.Int(a[0]),
            "toString" => Values.Print(a[0]),
            "join" => string.Join(Values.Str(a[0]), ((List<object?>?)a[1] ?? []).Select(Values.Print)),
            "ternary" => Values.Truthy(a[2]) ? a[0] : a[1],
            "merge" => Merge(a),
            "index" => a.Skip(1).Aggregate(a[0], (v, k) => v switch
            {
                Dictionary<string, object?> m => m.GetValueOrDefault(Values.Str(k)),
                List<object?> l => l[Values.Int(k)],
                _ => throw new InvalidOperationException("index of a scalar"),
            }),
            "hasKey" => a[0] is Dictionary<string, object?> m && m.ContainsKey(Values.Str(a[1])),
            "keys" => ((Dictionary<string, object?>)a[0]!).Keys.Order(StringComparer.Ordinal).Select(k => (object?)k).ToList(),
            "len" => (long)(a[0] switch { string s => s.Length, List<object?> l => l.Count, Dictionary<string, object?> d => d.Count, null => 0, _ => throw new InvalidOperationException("len of a scalar") }),
            "not" => !Values.Truthy(a[0]),
            "eq" => a.Skip(1).Any(b => Values.Equal(a[0], b)),
            "ne" => !Values.Equal(a[0], a[1]),
            "lt" => Values.Compare(a[0], a[1]) < 0,
            "le" => Values.Compare(a[0], a[1]) <= 0,
            "gt" => Values.Compare(a[0], a[1]) > 0,
            "ge" => Values.Compare(a[0], a[1]) >= 0,
            _ => throw new InvalidOperationException($"function \"{name}\" not defined"),
        };

        private static string Indent(int n, string text)
        {
            var pad = new string(' ', n);
            return pad + text.Replace("\n", "\n" + pad, StringComparison.Ordinal);
        }

        /// <summary>sprig's merge: keys of the first dict win, nested dicts merge, the first dict is returned.</summary>
        private static object? Merge(object?[] a)
        {
            var target = (Dictionary<string, object?>)a[0]!;
            foreach (var source in a.Skip(1).OfType<Dictionary<string, object?>>())
            {
                foreach (var (key, value) in source)
                {
                    if (!target.TryGetValue(key, out var existing))
                    {
                        target[key] = Values.DeepCopy(value);
                    }
                    else if (existing is Dictionary<string, object?> && value is Dictionary<string, object?>)
                    {
                        Merge([existing, value]);
                    }
                }
            }

            return target;
        }
    }

    /// <summary>Values as templates see them: null, bool, long, double, string, list, string-keyed dict.</summary>
    public static class Values
    {
        public static object? FromJson(System.Text.Json.Nodes.JsonNode? node) => node switch
        {
            null => null,
            System.Text.Json.Nodes.JsonObject o => o.ToDictionary(kv => kv.Key, kv => FromJson(kv.Value)),
            System.Text.Json.Nodes.JsonArray a => a.Select(FromJson).ToList(),
            System.Text.Json.Nodes.JsonValue v when v.TryGetValue<bool>(out var b) => b,
            System.Text.Json.Nodes.JsonValue v when v.TryGetValue<long>(out var l) => l,
            System.Text.Json.Nodes.JsonValue v when v.TryGetValue<double>(out var d) => d,
            System.Text.Json.Nodes.JsonValue v => v.GetValue<string>(),
            _ => throw new NotSupportedException(),
        };

        public static object? ToPlain(object? value) => value;

        public static object? FromYaml(string yaml) => FromJson(YamlJson.Parse(yaml));

        public static object? DeepCopy(object? value) => value switch
        {
            Dictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => DeepCopy(kv.Value)),
            List<object?> l => l.Select(DeepCopy).ToList(),
            _ => value,
        };

        public static object? Walk(object? value, string[] path)
        {
            foreach (var key in path.Where(k => k.Length > 0))
            {
                value = value switch
                {
                    Dictionary<string, object?> map => map.GetValueOrDefault(key),
                    null => throw new InvalidOperationException($"nil pointer evaluating .{key} (in .{string.Join('.', path)})"),
                    _ => throw new InvalidOperationException($"can't evaluate field {key} in {value.GetType().Name}"),
                };
            }

            return value;
        }

        public static bool Truthy(object? value) => !Empty(value);

        public static bool Empty(object? value) => value switch
        {
            null => true,
            bool b => !b,
            long l => l == 0,
            double d => d == 0,
            string s => s.Length == 0,
            List<object?> l => l.Count == 0,
            Dictionary<string, object?> d => d.Count == 0,
            _ => false,
        };

        public static int Int(object? value) => value switch
        {
            long l => (int)l,
            double d => (int)d,
            string s => int.TryParse(s, CultureInfo.InvariantCulture, out var i) ? i : 0,
            null => 0,
            bool b => b ? 1 : 0,
            _ => throw new InvalidOperationException($"int of {value.GetType().Name}"),
        };

        public static string Str(object? value) => value as string ?? Print(value);

        public static string Print(object? value) => value switch
        {
            null => "",
            string s => s,
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            List<object?> l => "[" + string.Join(' ', l.Select(Print)) + "]",
            Dictionary<string, object?> m => "map[" + string.Join(' ', m.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}:{Print(kv.Value)}")) + "]",
            _ => value.ToString() ?? "",
        };

        public static bool Equal(object? a, object? b) => (a, b) switch
        {
            (long x, double y) => x == y,
            (double x, long y) => x == y,
            _ => Equals(a, b),
        };

        public static int Compare(object? a, object? b) => (a, b) switch
        {
            (string x, string y) => string.CompareOrdinal(x, y),
            _ => Convert.ToDouble(a, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, CultureInfo.InvariantCulture)),
        };

        public static string Sprintf(string format, object?[] args)
        {
            var output = new StringBuilder();
            var next = 0;
            for (var i = 0; i < format.Length; i++)
            {
                if (format[i] != '%')
                {
                    output.Append(format[i]);
                    continue;
                }

                var verb = format[++i];
                if (verb == '%')
                {
                    output.Append('%');
                    continue;
                }

                var arg = args[next++];
                output.Append(verb switch
                {
                    's' or 'v' => Print(arg),
                    'd' => Int(arg).ToString(CultureInfo.InvariantCulture),
                    'q' => System.Text.Json.JsonSerializer.Serialize(Print(arg)),
                    _ => throw new NotSupportedException($"printf verb %{verb}"),
                });
            }

            return output.ToString();
        }
    }

    /// <summary>Block YAML the way helm's toYaml writes it: keys sorted, ambiguous strings quoted.</summary>
    private static class Yaml
    {
        private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        {
            "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
        };

        public static string Write(object? value)
        {
            var output = new StringBuilder();
            Write(value, 0, output);
            return output.ToString();
        }

        private static void Write(object? value, int indent, StringBuilder output)
        {
            var pad = new string(' ', indent);
            switch (value)
            {
                case Dictionary<string, object?> { Count: > 0 } map:
                    foreach (var (key, child) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    {
                        output.Append(pad).Append(Scalar(key)).Append(':');
                        WriteChild(child, indent, output);
                    }

                    break;
                case List<object?> { Count: > 0 } list:
                    foreach (var item in list)
                    {
                        output.Append(pad).Append('-');
                        if (item is Dictionary<string, object?> { Count: > 0 } or List<object?> { Count: > 0 })
                        {
                            var nested = new StringBuilder();
                            Write(item, indent + 2, nested);
                            output.Append(' ').Append(nested.ToString()[(indent + 2)..]);
                        }
                        else
                        {
                            output.Append(' ').Append(Scalar(item)).Append('\n');
                        }
                    }

                    break;
                default:
                    output.Append(pad).Append(Scalar(value)).Append('\n');
                    break;
            }
        }

        private static void WriteChild(object? child, int indent, StringBuilder output)
        {
            if (child is Dictionary<string, object?> { Count: > 0 })
            {
                output.Append('\n');
                Write(child, indent + 2, output);
            }
            else if (child is List<object?> { Count: > 0 })
            {
                output.Append('\n');
                Write(child, indent, output);
            }
            else
            {
                output.Append(' ').Append(Scalar(child)).Append('\n');
            }
        }

        private static string Scalar(object? value) => value switch
        {
            null => "null",
            Dictionary<string, object?> => "{}",
            List<object?> => "[]",
            string s when IsPlain(s) => s,
            string s => System.Text.Json.JsonSerializer.Serialize(s),
            _ => Values.Print(value),
        };

        private static bool IsPlain(string s) =>
            s.Length > 0 && !Reserved.Contains(s) && (char.IsLetter(s[0]) || s[0] == '/')
            && s.All(c => char.IsLetterOrDigit(c) || c is '.' or '/' or '-' or '_')
            && !double.TryParse(s, CultureInfo.InvariantCulture, out _);
    }
}

internal static class OperandExtensions
{
    public static T As<T>(this object operand)
        where T : class => operand as T ?? throw new FormatException($"expected {typeof(T).Name}, got {operand}");
}
