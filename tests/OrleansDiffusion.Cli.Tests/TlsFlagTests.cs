using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OrleansDiffusion.EndToEnd.Tests;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>The cluster verbs' client certificate (<c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c>, or
/// <c>ODIFF_TLS_*</c>) is checked before anything connects: a missing, empty, unparsable, mismatched or foreign file,
/// or a certificate not valid for TLS client use, exits with 2 naming the flag. A Redis password on the command line
/// is refused the same way.</summary>
public sealed class TlsFlagTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly TestCertificates _cluster;
    private readonly TestCertificates _other;
    private readonly (string Certificate, string Key) _client;

    public TlsFlagTests()
    {
        _cluster = new TestCertificates(_directory.Path, "cluster");
        _other = new TestCertificates(_directory.Path, "other");
        _client = _cluster.Client("client");
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _other.Dispose();
        _directory.Dispose();
    }

    private string Garbage()
    {
        var path = Path.Combine(_directory.Path, "garbage.pem");
        File.WriteAllText(path, "not a certificate\n");
        return path;
    }

    private async Task<string> RunAsync(int expectedExitCode, params string[] args)
    {
        var error = new StringWriter();
        var exitCode = await CommandLineHost.RunAsync(Program.CreateRoot(), ["jobs", "--gateway", $"127.0.0.1:{ClosedPort()}", "--connect-timeout", "2", .. args], error);
        Assert.True(exitCode == expectedExitCode, $"exit code {exitCode}: {error}");
        return error.ToString();
    }

    [Fact]
    public async Task A_missing_certificate_file_is_named()
    {
        var missing = Path.Combine(_directory.Path, "missing.crt");
        var error = await RunAsync(2, "--tls-cert", missing, "--tls-key", _client.Key, "--tls-ca", _cluster.CaFile);
        Assert.Contains($"--tls-cert: '{missing}' does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_or_ca_without_a_certificate_is_refused()
    {
        var error = await RunAsync(2, "--tls-key", _client.Key, "--tls-ca", _cluster.CaFile);
        Assert.Contains("--tls-cert: required when a TLS key or CA file is given", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_without_key_and_ca_names_both()
    {
        var error = await RunAsync(2, "--tls-cert", _client.Certificate);
        Assert.Contains("--tls-key: required when TLS is on", error, StringComparison.Ordinal);
        Assert.Contains("--tls-ca: required when TLS is on", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_device_as_certificate_is_refused_without_being_read()
    {
        var error = await RunAsync(2, "--tls-cert", "/dev/zero", "--tls-key", _client.Key, "--tls-ca", _cluster.CaFile);
        Assert.Contains("--tls-cert: '/dev/zero' is empty or not a regular file", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ca_file_that_is_not_pem_is_named()
    {
        var garbage = Garbage();
        var error = await RunAsync(2, "--tls-cert", _client.Certificate, "--tls-key", _client.Key, "--tls-ca", garbage);
        Assert.Contains($"--tls-ca: '{garbage}' is not a PEM CA certificate", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_that_does_not_match_the_certificate_is_named()
    {
        var otherKey = _cluster.Client("someone-else").Key;
        var error = await RunAsync(2, "--tls-cert", _client.Certificate, "--tls-key", otherKey, "--tls-ca", _cluster.CaFile);
        Assert.Contains($"--tls-cert: '{_client.Certificate}' with key '{otherKey}' is not a PEM certificate and its private key", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_from_another_ca_is_named()
    {
        var error = await RunAsync(2, "--tls-cert", _client.Certificate, "--tls-key", _client.Key, "--tls-ca", _other.CaFile);
        Assert.Contains($"--tls-cert: '{_client.Certificate}' is not signed by the CA in '{_other.CaFile}'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_without_client_usage_is_named()
    {
        var server = _cluster.Issue("server-only", new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1"));
        var error = await RunAsync(2, "--tls-cert", server.Certificate, "--tls-key", server.Key, "--tls-ca", _cluster.CaFile);
        Assert.Contains($"--tls-cert: '{server.Certificate}' is not valid for Client Authentication", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Valid_files_pass_the_checks_and_the_verb_tries_to_connect()
    {
        var error = await RunAsync(1, "--tls-cert", _client.Certificate, "--tls-key", _client.Key, "--tls-ca", _cluster.CaFile);
        Assert.Contains("Cannot connect to the OrleansDiffusion cluster", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_redis_password_on_the_command_line_is_refused()
    {
        var error = new StringWriter();
        var exitCode = await CommandLineHost.RunAsync(Program.CreateRoot(), ["jobs", "--redis", "127.0.0.1:1,password=hunter2"], error);
        Assert.Equal(2, exitCode);
        Assert.Contains("--redis: holds a password; set ODIFF_REDIS_PASSWORD", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_environment_supplies_the_files_and_is_checked_the_same_way()
    {
        var missing = Path.Combine(_directory.Path, "missing.crt");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "odiff.dll"));
        foreach (var arg in new[] { "jobs", "--gateway", $"127.0.0.1:{ClosedPort()}" }) info.ArgumentList.Add(arg);
        info.Environment.Remove("ODIFF_REDIS");
        info.Environment.Remove("ODIFF_GATEWAY");
        info.Environment["ODIFF_TLS_CERT"] = missing;
        info.Environment["ODIFF_TLS_KEY"] = _client.Key;
        info.Environment["ODIFF_TLS_CA"] = _cluster.CaFile;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(2, process.ExitCode);
        Assert.Contains($"--tls-cert: '{missing}' does not exist", await stderr, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
