namespace OrleansDiffusion.Hosting;

/// <summary>Configuration section <c>OrleansDiffusion:Tls</c>: mutual TLS between silos and for clients of the gateway,
/// from PEM files (a Kubernetes <c>kubernetes.io/tls</c> Secret with <c>ca.crt</c>). On when
/// <see cref="CertificateFile"/> is set.</summary>
public sealed class DiffusionTlsOptions
{
    /// <summary>This silo's certificate (PEM), valid for TLS server and TLS client use.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>Its private key (PEM).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The CA (PEM, one or more certificates) that every peer's certificate must chain to; the only trust anchor.</summary>
    public string? CaFile { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificateFile);
}
