using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansDiffusion.Api.A1111;
using OrleansDiffusion.Api.Auth;
using OrleansDiffusion.Api.DeepZoom;
using OrleansDiffusion.Api.Jobs;
using OrleansDiffusion.Api.Web;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Api;

/// <summary>Adds the OrleansDiffusion HTTP API to an ASP.NET Core host: the <c>/v1</c> REST API, the A1111-compatible
/// <c>/sdapi/v1</c> endpoints, the OpenAPI document at <c>/openapi/v1.json</c> and the web page at <c>/ui/</c>.</summary>
public static class DiffusionApiExtensions
{
    /// <summary>Registers the API's services. Options start from the <c>OrleansDiffusion</c> section of
    /// <paramref name="configuration"/> (<c>ApiKeysFile</c>, <c>ApiCacheDirectory</c>); <paramref name="configure"/> overrides them.
    /// A <see cref="DiffusionClient"/> over the host's <see cref="IClusterClient"/> is added unless one is registered.</summary>
    public static IServiceCollection AddOrleansDiffusionApi(this IServiceCollection services, IConfiguration? configuration = null, Action<DiffusionApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = DiffusionApiOptions.FromConfiguration(configuration);
        configure?.Invoke(options);
        services.AddSingleton(options);
        services.TryAddSingleton(sp => new DiffusionClient(sp.GetRequiredService<IClusterClient>()));
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<ApiKeyFilter>();
        services.AddSingleton<ResultCache>();
        services.AddSingleton<DeepZoomCache>();
        services.AddSingleton<A1111Tracker>();
        services.AddProblemDetails();
        services.AddOpenApi();
        return services;
    }

    /// <summary>Maps the API; every job endpoint requires an API key when a keys file is configured.</summary>
    public static IEndpointRouteBuilder MapOrleansDiffusionApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // Fail at start-up, not on the first request, when the keys file is missing.
        _ = endpoints.ServiceProvider.GetRequiredService<ApiKeyStore>();
        var v1 = endpoints.MapGroup("/v1").AddEndpointFilter<ApiKeyFilter>().WithTags("jobs")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        JobEndpoints.Map(v1);
        var sdapi = endpoints.MapGroup("/sdapi/v1").AddEndpointFilter<ApiKeyFilter>().WithTags("a1111")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        A1111Endpoints.Map(sdapi);
        endpoints.MapOpenApi("/openapi/{documentName}.json");
        WebPage.Map(endpoints);
        return endpoints;
    }
}
