using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Supervisor.Remote.Security;

/// <summary>Loads certificates (PEM or PKCS#12) and builds the Akka.Remote TLS setup with our own peer validator.</summary>
public static class TlsMaterial
{
    /// <summary>
    /// A certificate with its private key: a PEM certificate plus a PEM key (<paramref name="keyPath"/>), or
    /// a PKCS#12 file (.pfx/.p12) with <paramref name="password"/>. On Linux SslStream hands the key to
    /// OpenSSL as it is, so neither needs the export and re-import through PKCS#12 that Windows' SChannel
    /// would (which costs a one-shot client ~60 ms of PBE key derivation and ASN.1 at start-up).
    /// </summary>
    public static X509Certificate2 LoadCertificate(string certificatePath, string? keyPath, string? password = null)
    {
        try
        {
            X509Certificate2 loaded;
            if (string.IsNullOrEmpty(keyPath))
                loaded = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password, X509KeyStorageFlags.Exportable);
            else
                loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            if (!loaded.HasPrivateKey)
            {
                loaded.Dispose();
                throw new TlsConfigurationException($"{certificatePath}: the certificate has no private key");
            }
            return loaded;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new TlsConfigurationException($"{certificatePath}: cannot load the certificate{(string.IsNullOrEmpty(keyPath) ? "" : $" and key {keyPath}")}: {e.Message}", e);
        }
    }

    /// <summary>The CA certificate(s) of a PEM file.</summary>
    public static X509Certificate2Collection LoadCa(string path)
    {
        var ca = new X509Certificate2Collection();
        try
        {
            ca.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new TlsConfigurationException($"{path}: cannot load the CA certificate: {e.Message}", e);
        }
        if (ca.Count == 0)
            throw new TlsConfigurationException($"{path}: no CA certificate in the file");
        return ca;
    }

    /// <summary>
    /// Mutual TLS for Akka.Remote: our certificate, a client certificate required, and a validator that replaces
    /// SslStream's verdict (which knows only the system store) with <paramref name="verifier"/>: the peer must
    /// chain to our CA and be allowlisted. Hostname checks are off: peers are identified by certificate, and a
    /// node's address is a loopback or private IP, not a name in its certificate.
    /// </summary>
    public static DotNettySslSetup SslSetup(X509Certificate2 certificate, CertificateVerifier verifier) =>
        new(certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: Validator(verifier));

    public static CertificateValidationCallback Validator(CertificateVerifier verifier) =>
        (X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log) =>
        {
            if (verifier.ValidateTlsPeer(certificate, errors, out var reason))
                return true;
            log?.Warning("control: TLS peer {0} refused: {1}", remotePeer, reason);
            return false;
        };
}

/// <summary>A TLS setting that cannot work (missing or unreadable certificate, key or CA).</summary>
public sealed class TlsConfigurationException : Exception
{
    public TlsConfigurationException(string message) : base(message) { }
    public TlsConfigurationException(string message, Exception inner) : base(message, inner) { }
}
