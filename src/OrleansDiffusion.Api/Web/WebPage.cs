using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace OrleansDiffusion.Api.Web;

/// <summary>The web page: files embedded in this assembly under <c>web/</c>, served at <c>/ui/</c> (never fetched from elsewhere).</summary>
internal static class WebPage
{
    private static readonly Assembly Assembly = typeof(WebPage).Assembly;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/ui/{**path}", (string? path) => Serve(string.IsNullOrEmpty(path) ? "index.html" : path)).ExcludeFromDescription();
    }

    private static IResult Serve(string path)
    {
        if (path.Contains("..", StringComparison.Ordinal)) return Results.NotFound();
        var stream = Assembly.GetManifestResourceStream("web/" + path);
        return stream is null ? Results.NotFound() : Results.Stream(stream, ContentType(path));
    }

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".png" => "image/png",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
