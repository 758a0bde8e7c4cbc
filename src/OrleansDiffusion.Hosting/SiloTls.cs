using Microsoft.AspNetCore.Connections;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansDiffusion.Tls;

namespace OrleansDiffusion.Hosting;

/// <summary>
/// Mutual TLS on every connection a silo makes or accepts, each direction with its own rule:
/// <list type="bullet">
/// <item>silo port (inbound): only silos, i.e. a certificate from the cluster CA valid for client <em>and</em> server use
/// (a client certificate cannot talk silo-to-silo);</item>
/// <item>gateway (inbound): a certificate from the cluster CA valid for client use (clients and silos);</item>
/// <item>to other silos (outbound): the remote must hold a cluster-CA certificate valid for server and client use.</item>
/// </list>
/// Every certificate must be presented; the machine's trust store plays no part (<see cref="ClusterTls"/>).
/// </summary>
internal static class SiloTls
{
    public static ISiloBuilder UseDiffusionTls(this ISiloBuilder silo, DiffusionTlsOptions tls)
    {
        var certificate = ClusterTls.LoadCertificate(tls.CertificateFile!, tls.KeyFile!);
        var authorities = ClusterTls.LoadAuthorities(tls.CaFile!);
        var fromSilos = Options(certificate, ClusterTls.Validator(authorities, ClusterTls.ServerAuthentication, ClusterTls.ClientAuthentication));
        var fromClients = Options(certificate, ClusterTls.Validator(authorities, ClusterTls.ClientAuthentication));
        var toSilos = Options(certificate, ClusterTls.Validator(authorities, ClusterTls.ServerAuthentication, ClusterTls.ClientAuthentication));
        return silo.Configure<SiloConnectionOptions>(connections =>
        {
            connections.ConfigureSiloInboundConnection(builder => builder.UseServerTls(fromSilos));
            connections.ConfigureGatewayInboundConnection(builder => builder.UseServerTls(fromClients));
            connections.ConfigureSiloOutboundConnection(builder => builder.UseClientTls(toSilos));
        });
    }

    private static TlsOptions Options(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, RemoteCertificateValidator validator) => new()
    {
        LocalCertificate = certificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = validator,
    };

    /// <summary>The validation rules of <see cref="DiffusionTlsOptions"/>, each failure naming its key.</summary>
    public static void Validate(DiffusionTlsOptions? tls, Action<string, string> fail)
    {
        if (tls is null) return;
        if (!tls.Enabled)
        {
            if (!string.IsNullOrWhiteSpace(tls.KeyFile) || !string.IsNullOrWhiteSpace(tls.CaFile))
                fail("Tls:CertificateFile", "required when Tls:KeyFile or Tls:CaFile is set (TLS is on when it is set)");
            return;
        }
        ClusterTls.Check(tls.CertificateFile, tls.KeyFile, tls.CaFile, (file, message) => fail(file switch
        {
            TlsFile.Certificate => "Tls:CertificateFile",
            TlsFile.Key => "Tls:KeyFile",
            _ => "Tls:CaFile",
        }, message), ClusterTls.ServerAuthentication, ClusterTls.ClientAuthentication);
    }
}
