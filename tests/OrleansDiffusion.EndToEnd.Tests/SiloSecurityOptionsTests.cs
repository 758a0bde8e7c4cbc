namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>A silo whose TLS or metrics-token settings are broken refuses to start (exit code 2, one line per broken
/// rule naming the configuration key) instead of starting without the protection asked for.</summary>
public sealed class SiloSecurityOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("odiff-silo-options-").FullName;
    private readonly TestCertificates _cluster;

    public SiloSecurityOptionsTests() => _cluster = new TestCertificates(_folder, "cluster");

    public void Dispose()
    {
        _cluster.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_certificate_without_key_and_ca_is_refused_naming_both_keys()
    {
        var silo = _cluster.Silo("silo");
        var stderr = await StartAsync(new() { ["OrleansDiffusion__Tls__CertificateFile"] = silo.Certificate });
        Assert.Contains("error: OrleansDiffusion:Tls:KeyFile: required when TLS is on", stderr, StringComparison.Ordinal);
        Assert.Contains("error: OrleansDiffusion:Tls:CaFile: required when TLS is on", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_certificate_without_server_usage_is_refused()
    {
        var client = _cluster.Client("client-only");
        var stderr = await StartAsync(TestCertificates.SiloEnvironment(client, _cluster.CaFile));
        Assert.Contains($"error: OrleansDiffusion:Tls:CertificateFile: '{client.Certificate}' is not valid for Server Authentication and Client Authentication", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_or_empty_metrics_token_file_is_refused()
    {
        var missing = Path.Combine(_folder, "no-token");
        var stderr = await StartAsync(new() { ["OrleansDiffusion__MetricsTokenFile"] = missing });
        Assert.Contains($"error: OrleansDiffusion:MetricsTokenFile: '{missing}' does not exist, is empty or is not a regular file", stderr, StringComparison.Ordinal);

        var blank = Path.Combine(_folder, "blank-token");
        await File.WriteAllTextAsync(blank, "  \n");
        stderr = await StartAsync(new() { ["OrleansDiffusion__MetricsTokenFile"] = blank });
        Assert.Contains($"error: OrleansDiffusion:MetricsTokenFile: '{blank}' holds no token", stderr, StringComparison.Ordinal);
    }

    /// <summary>Starts a silo with <paramref name="environment"/>, expects exit code 2, returns its stderr.</summary>
    private async Task<string> StartAsync(Dictionary<string, string> environment)
    {
        environment["OrleansDiffusion__HttpPort"] = BuiltPrograms.FreePort().ToString();
        environment["OrleansDiffusion__SiloPort"] = BuiltPrograms.FreePort().ToString();
        environment["OrleansDiffusion__GatewayPort"] = BuiltPrograms.FreePort().ToString();
        using var silo = ChildProcess.Start("silo", "dotnet", [BuiltPrograms.Silo], environment, _folder);
        await silo.WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(silo.ExitCode == 2, $"exit code {silo.ExitCode}{Environment.NewLine}{silo.Tail()}");
        return silo.Stderr;
    }
}
