using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Supervisor.Remote.Tests.Infrastructure;

/// <summary>
/// Certificates made in the test (no openssl, no `make certs`): a CA and leaves signed by it, written as PEM
/// files when a daemon or the CLI needs them. ECDSA P-256, like scripts/make-certs.sh.
/// </summary>
public sealed class TestPki : IDisposable
{
    public TestPki(string name = "Test CA")
    {
        Dir = Path.Combine(Path.GetTempPath(), "sv-pki-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={name}, O=Supervisor Test", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        Ca = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow.AddDays(60));
        CaPath = Path.Combine(Dir, "ca.crt");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
    }

    public string Dir { get; }

    public X509Certificate2 Ca { get; }

    public string CaPath { get; }

    public X509Certificate2Collection CaCollection => [Ca];

    /// <summary>A leaf signed by this CA (with its private key); <paramref name="ou"/> is the role.</summary>
    public X509Certificate2 Issue(string cn, string? ou, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool rsa = false)
    {
        var subject = ou is null ? $"CN={cn}, O=Supervisor Test" : $"CN={cn}, OU={ou}, O=Supervisor Test";
        AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = key is RSA r
            ? new CertificateRequest(subject, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        // The CA's ECDSA key signs whatever the leaf's key type is.
        using var caKey = Ca.GetECDsaPrivateKey()!;
        using var signed = req.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
            notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(10), serial);
        var withKey = key is RSA rk ? signed.CopyWithPrivateKey(rk) : signed.CopyWithPrivateKey((ECDsa)key);
        key.Dispose();
        return withKey;
    }

    /// <summary>Writes NAME.crt and NAME.key (PKCS#8 PEM) and returns their paths.</summary>
    public (string Cert, string Key) Write(string name, X509Certificate2 cert)
    {
        var certPath = Path.Combine(Dir, name + ".crt");
        var keyPath = Path.Combine(Dir, name + ".key");
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        AsymmetricAlgorithm key = (AsymmetricAlgorithm?)cert.GetECDsaPrivateKey() ?? cert.GetRSAPrivateKey()!;
        using (key)
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    public void Dispose()
    {
        Ca.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
