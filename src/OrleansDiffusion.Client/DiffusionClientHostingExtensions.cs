using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansDiffusion.Tls;

namespace OrleansDiffusion.Client;

/// <summary>Registers the OrleansDiffusion client in a host.</summary>
public static class DiffusionClientHostingExtensions
{
    /// <summary>
    /// Adds an Orleans client connected to an OrleansDiffusion cluster (Redis membership or a static gateway) and
    /// registers <see cref="DiffusionClient"/> and the resolved <see cref="DiffusionClientOptions"/> as singletons.
    /// Options start from the <c>OrleansDiffusion</c> configuration section; <paramref name="configure"/> overrides them.
    /// With <see cref="DiffusionClientOptions.TlsCertificateFile"/> set, the gateway connection is mutual TLS: the
    /// client presents its certificate and accepts only a gateway whose certificate chains to the cluster CA.
    /// The connection is made when the host starts.
    /// </summary>
    /// <exception cref="OptionsValidationException">The options are invalid (each failure names the option).</exception>
    public static IHostApplicationBuilder UseDiffusionClient(this IHostApplicationBuilder builder, Action<DiffusionClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = DiffusionClientOptions.FromConfiguration(builder.Configuration);
        configure?.Invoke(options);
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new OptionsValidationException(nameof(DiffusionClientOptions), typeof(DiffusionClientOptions), errors.Select(e => e.ToString()));

        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(cluster =>
            {
                cluster.ClusterId = options.ClusterId;
                cluster.ServiceId = options.ServiceId;
            });
            if (options.Redis is { Length: > 0 })
                client.UseRedisClustering(redis => redis.ConfigurationOptions = options.RedisConfiguration());
            else
                client.UseStaticClustering(options.GatewayEndPoint());
            if (options.TlsEnabled) client.UseClusterTls(options);
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<DiffusionClient>();
        return builder;
    }

    private static void UseClusterTls(this IClientBuilder client, DiffusionClientOptions options)
    {
        var certificate = ClusterTls.LoadCertificate(options.TlsCertificateFile!, options.TlsKeyFile!);
        var authorities = ClusterTls.LoadAuthorities(options.TlsCaFile!);
        client.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.RemoteCertificateValidation = ClusterTls.Validator(authorities, ClusterTls.ServerAuthentication);
        });
    }
}
