using Microsoft.Extensions.Configuration;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>The SDK reads its TLS files and Redis credentials under the silos' key names, and checks the TLS files
/// when it validates (no cluster needed).</summary>
public sealed class ClientSecurityOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("odiff-client-tls-").FullName;
    private readonly TestCertificates _cluster;

    public ClientSecurityOptionsTests() => _cluster = new TestCertificates(_folder, "cluster");

    public void Dispose()
    {
        _cluster.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Configuration_keys_are_the_silos_names()
    {
        var client = _cluster.Client("client");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OrleansDiffusion:Redis"] = "redis:6379",
            ["OrleansDiffusion:RedisUser"] = "odiff",
            ["OrleansDiffusion:RedisPassword"] = "secret",
            ["OrleansDiffusion:RedisTls"] = "true",
            ["OrleansDiffusion:Tls:CertificateFile"] = client.Certificate,
            ["OrleansDiffusion:Tls:KeyFile"] = client.Key,
            ["OrleansDiffusion:Tls:CaFile"] = _cluster.CaFile,
        }).Build();
        var options = DiffusionClientOptions.FromConfiguration(configuration);
        Assert.Equal(("odiff", "secret", true), (options.RedisUser, options.RedisPassword, options.RedisTls));
        Assert.Equal((client.Certificate, client.Key, _cluster.CaFile), (options.TlsCertificateFile, options.TlsKeyFile, options.TlsCaFile));
        Assert.True(options.TlsEnabled);
        Assert.Empty(options.Validate());
    }

    [Fact]
    public void A_silo_certificate_works_for_a_client_but_a_foreign_one_is_named()
    {
        var silo = _cluster.Silo("silo");
        Assert.Empty(new DiffusionClientOptions { Gateway = "127.0.0.1:30000", TlsCertificateFile = silo.Certificate, TlsKeyFile = silo.Key, TlsCaFile = _cluster.CaFile }.Validate());

        using var other = new TestCertificates(_folder, "other");
        var foreign = other.Client("foreign");
        var error = Assert.Single(new DiffusionClientOptions { Gateway = "127.0.0.1:30000", TlsCertificateFile = foreign.Certificate, TlsKeyFile = foreign.Key, TlsCaFile = _cluster.CaFile }.Validate());
        Assert.Equal("tls-cert", error.Field);
        Assert.Contains("is not signed by the CA", error.Message, StringComparison.Ordinal);
    }
}
