using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Api.Auth;

/// <summary>Lets a request through only with <c>Authorization: Bearer &lt;key&gt;</c> naming a valid key (or when the API is open).</summary>
internal sealed class ApiKeyFilter(ApiKeyStore keys, ILogger<ApiKeyFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (keys.IsOpen || keys.IsValid(BearerToken(context.HttpContext.Request))) return await next(context);
        Log.Unauthorized(logger, context.HttpContext.Request.Path);
        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "send a valid API key as 'Authorization: Bearer <key>'");
    }

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        return header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : null;
    }
}
