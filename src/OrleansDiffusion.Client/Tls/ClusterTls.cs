using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace OrleansDiffusion.Tls;

/// <summary>
/// The cluster's mutual TLS, shared by silos and clients (this file is compiled into both the SDK and the silo
/// hosting library): PEM files are loaded here, and a peer is accepted only when its certificate chains to the
/// cluster CA file (the only trust anchor; the machine's trust store plays no part) and carries the usages its
/// role needs. Host names are not checked: silos reach each other by pod IP, and membership in the cluster is
/// "holds a key whose certificate the cluster CA signed".
/// </summary>
internal static class ClusterTls
{
    /// <summary>Extended key usage "TLS server" (1.3.6.1.5.5.7.3.1).</summary>
    public static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>Extended key usage "TLS client" (1.3.6.1.5.5.7.3.2).</summary>
    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    /// <summary>Files larger than this are not certificates, keys or CA bundles.</summary>
    private const long MaxFileBytes = 1 << 20;

    /// <summary>The certificate (first PEM certificate of <paramref name="certificateFile"/>) with its private key.</summary>
    public static X509Certificate2 LoadCertificate(string certificateFile, string keyFile)
    {
        using var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        if (!certificate.HasPrivateKey) throw new CryptographicException($"{keyFile} holds no private key for {certificateFile}");
        // Exported and re-imported so the key is usable by SslStream on every platform (PEM keys are ephemeral).
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Every certificate of the CA file (PEM); at least one.</summary>
    public static X509Certificate2Collection LoadAuthorities(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(caFile);
        if (authorities.Count == 0) throw new CryptographicException($"{caFile} holds no PEM certificate");
        return authorities;
    }

    /// <summary>What is wrong with the three files (nothing: they load, the certificate chains to the CA and is valid
    /// for every one of <paramref name="usages"/>); <paramref name="fail"/> gets (which file, message).</summary>
    public static void Check(string? certificateFile, string? keyFile, string? caFile, Action<TlsFile, string> fail, params Oid[] usages)
    {
        var certificateOk = CheckFile(TlsFile.Certificate, certificateFile, fail);
        var keyOk = CheckFile(TlsFile.Key, keyFile, fail);
        var caOk = CheckFile(TlsFile.Authority, caFile, fail);
        X509Certificate2? certificate = null;
        try
        {
            if (certificateOk && keyOk)
            {
                try
                {
                    certificate = LoadCertificate(certificateFile!, keyFile!);
                }
                catch (CryptographicException e)
                {
                    fail(TlsFile.Certificate, $"'{certificateFile}' with key '{keyFile}' is not a PEM certificate and its private key: {e.Message}");
                }
                catch (ArgumentException e)
                {
                    fail(TlsFile.Certificate, $"'{certificateFile}' with key '{keyFile}' is not a PEM certificate and its private key: {e.Message}");
                }
            }
            if (caOk)
            {
                try
                {
                    var authorities = LoadAuthorities(caFile!);
                    if (certificate is not null && !Chains(certificate, authorities, []))
                        fail(TlsFile.Certificate, $"'{certificateFile}' is not signed by the CA in '{caFile}' (or has expired)");
                    else if (certificate is not null && !Chains(certificate, authorities, [], usages))
                        fail(TlsFile.Certificate, $"'{certificateFile}' is not valid for {string.Join(" and ", usages.Select(u => u.FriendlyName))} (extended key usage)");
                }
                catch (CryptographicException e)
                {
                    fail(TlsFile.Authority, $"'{caFile}' is not a PEM CA certificate: {e.Message}");
                }
            }
        }
        finally
        {
            certificate?.Dispose();
        }
    }

    /// <summary>A validator accepting a peer certificate that chains to <paramref name="authorities"/> and is valid
    /// for every usage in <paramref name="usages"/>; the platform's own verdict (machine trust store, host name) is
    /// ignored.</summary>
    public static RemoteCertificateValidator Validator(X509Certificate2Collection authorities, params Oid[] usages) =>
        (certificate, chain, _) =>
        {
            var presented = new X509Certificate2Collection();
            if (chain is not null)
                foreach (var element in chain.ChainElements)
                    if (!element.Certificate.Equals(certificate)) presented.Add(element.Certificate);
            return Chains(certificate, authorities, presented, usages);
        };

    private static bool Chains(X509Certificate2 certificate, X509Certificate2Collection authorities, X509Certificate2Collection intermediates, params Oid[] usages)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        foreach (var usage in usages) chain.ChainPolicy.ApplicationPolicy.Add(usage);
        try
        {
            return chain.Build(certificate);
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
        }
    }

    private static bool CheckFile(TlsFile which, string? path, Action<TlsFile, string> fail)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            fail(which, "required when TLS is on");
            return false;
        }
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            fail(which, $"'{path}' does not exist or is not a regular file");
            return false;
        }
        // FileInfo follows symbolic links (Kubernetes Secret volumes are links). FIFOs and devices report no length:
        // refused here, before anything opens (and blocks on) them.
        if (info.Length == 0)
        {
            fail(which, $"'{path}' is empty or not a regular file");
            return false;
        }
        if (info.Length > MaxFileBytes)
        {
            fail(which, $"'{path}' is larger than {MaxFileBytes} bytes");
            return false;
        }
        return true;
    }
}

/// <summary>The three files of <see cref="ClusterTls"/>.</summary>
internal enum TlsFile
{
    Certificate,
    Key,
    Authority,
}
