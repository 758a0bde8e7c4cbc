using System.Globalization;
using System.Text.Json;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Cli;

/// <summary>How <c>odiff models</c> prints the cluster's models: a table, or JSON with snake_case fields.</summary>
internal static class ModelListOutput
{
    public static string Table(IReadOnlyList<ClusterModel> models)
    {
        if (models.Count == 0) return "no models (the silos' model store is empty or not configured: OrleansDiffusion__ModelsDirectory)";
        var rows = models.Select(m => new[]
        {
            m.Name, m.Family.Length == 0 ? "-" : m.Family, m.Parameters.ToString("N0", CultureInfo.InvariantCulture),
            string.Join(",", m.DTypes), string.Join(",", m.Silos), m.Error ?? "",
        }).Prepend(["NAME", "FAMILY", "PARAMETERS", "DTYPES", "SILOS", "ERROR"]).ToList();
        var widths = Enumerable.Range(0, 6).Select(c => rows.Max(r => r[c].Length)).ToArray();
        return string.Join(Environment.NewLine, rows.Select(r => string.Join("  ", r.Select((v, c) => v.PadRight(widths[c]))).TrimEnd()));
    }

    public static string ToJson(IReadOnlyList<ClusterModel> models) => JsonSerializer.Serialize(models.Select(m => new
    {
        name = m.Name,
        family = m.Family,
        parameters = m.Parameters,
        dtypes = m.DTypes,
        silos = m.Silos,
        error = m.Error,
    }));
}
