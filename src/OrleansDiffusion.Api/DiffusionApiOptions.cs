using Microsoft.Extensions.Configuration;

namespace OrleansDiffusion.Api;

/// <summary>Options of the HTTP API, read from the <c>OrleansDiffusion</c> configuration section (environment:
/// <c>OrleansDiffusion__ApiKeysFile</c>, <c>OrleansDiffusion__ApiCacheDirectory</c>).</summary>
public sealed class DiffusionApiOptions
{
    public const string SectionName = "OrleansDiffusion";

    /// <summary>A file with one API key per line (blank lines and lines starting with <c>#</c> ignored), e.g. a mounted
    /// Kubernetes Secret. Null: no keys, and the API is open to anyone who can reach it (embedded and development use only).</summary>
    public string? ApiKeysFile { get; set; }

    /// <summary>Where finished images and their Deep Zoom pyramids are cached, one folder per job.</summary>
    public string CacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "odiff-api-cache");

    /// <summary>Side of a Deep Zoom tile in pixels.</summary>
    public int DeepZoomTileSize { get; set; } = 256;

    /// <summary>Reads the options from <paramref name="configuration"/>; absent keys keep their defaults.</summary>
    public static DiffusionApiOptions FromConfiguration(IConfiguration? configuration)
    {
        var options = new DiffusionApiOptions();
        if (configuration is null) return options;
        var section = configuration.GetSection(SectionName);
        if (section[nameof(ApiKeysFile)] is { Length: > 0 } keys) options.ApiKeysFile = keys;
        if (section["ApiCacheDirectory"] is { Length: > 0 } cache) options.CacheDirectory = cache;
        return options;
    }
}
