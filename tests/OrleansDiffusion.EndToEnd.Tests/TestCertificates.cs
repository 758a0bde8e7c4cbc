using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>Certificates made by the tests with <see cref="CertificateRequest"/> and written as PEM files: a CA, and
/// leaf certificates it signs with the usages asked for (silos: server and client; clients: client only).</summary>
internal sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");
    private readonly X509Certificate2 _authority;

    /// <summary>A new CA named <paramref name="name"/>, its certificate written to <paramref name="folder"/>/<paramref name="name"/>-ca.crt.</summary>
    public TestCertificates(string folder, string name)
    {
        Folder = Directory.CreateDirectory(folder).FullName;
        Name = name;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2));
        CaFile = Path.Combine(Folder, $"{name}-ca.crt");
        File.WriteAllText(CaFile, _authority.ExportCertificatePem());
    }

    public string Folder { get; }
    public string Name { get; }

    /// <summary>The CA certificate (PEM).</summary>
    public string CaFile { get; }

    /// <summary>A silo certificate: TLS server and client usage.</summary>
    public (string Certificate, string Key) Silo(string name) => Issue(name, ServerAuth, ClientAuth);

    /// <summary>A client certificate: TLS client usage only.</summary>
    public (string Certificate, string Key) Client(string name) => Issue(name, ClientAuth);

    /// <summary>A certificate this CA signs for <paramref name="usages"/>, as PEM files named after it.</summary>
    public (string Certificate, string Key) Issue(string name, params Oid[] usages)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var usageCollection = new OidCollection();
        foreach (var usage in usages) usageCollection.Add(usage);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usageCollection, critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var certificate = request.Create(_authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        var certificateFile = Path.Combine(Folder, $"{Name}-{name}.crt");
        var keyFile = Path.Combine(Folder, $"{Name}-{name}.key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certificateFile, keyFile);
    }

    /// <summary>The environment that gives a silo this certificate and CA.</summary>
    public static Dictionary<string, string> SiloEnvironment((string Certificate, string Key) pair, string caFile) => new()
    {
        ["OrleansDiffusion__Tls__CertificateFile"] = pair.Certificate,
        ["OrleansDiffusion__Tls__KeyFile"] = pair.Key,
        ["OrleansDiffusion__Tls__CaFile"] = caFile,
    };

    public void Dispose() => _authority.Dispose();
}
