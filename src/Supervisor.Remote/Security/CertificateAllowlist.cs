using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Supervisor.Remote.Security;

/// <summary>
/// Which certificates of the CA may talk to the control plane: by subject distinguished name or by SHA-256
/// thumbprint (hex). Being signed by the CA is not enough on its own, so that a CA shared with other services
/// does not open the control plane to all of them. An empty allowlist admits nobody.
/// </summary>
public sealed class CertificateAllowlist
{
    private readonly HashSet<string> _subjects;
    private readonly HashSet<string> _thumbprints;

    private readonly bool _anyone;

    private CertificateAllowlist()
    {
        _subjects = [];
        _thumbprints = [];
        _anyone = true;
    }

    /// <summary>
    /// Every certificate of the CA. Only for a client checking the daemon it connects to, whose CA is the
    /// control plane's own; a daemon always checks its peers against an explicit list.
    /// </summary>
    public static CertificateAllowlist AnyoneOfTheCa { get; } = new();

    public CertificateAllowlist(IEnumerable<string> subjects, IEnumerable<string> thumbprints)
    {
        _subjects = new HashSet<string>(subjects.Select(NormalizeSubject), StringComparer.OrdinalIgnoreCase);
        _thumbprints = new HashSet<string>(thumbprints.Select(NormalizeThumbprint), StringComparer.Ordinal);
    }

    public bool IsEmpty => !_anyone && _subjects.Count == 0 && _thumbprints.Count == 0;

    public bool Allows(X509Certificate2 certificate) =>
        _anyone || _thumbprints.Contains(Sha256Thumbprint(certificate)) || _subjects.Contains(NormalizeSubject(certificate.SubjectName));

    /// <summary>The certificate's SHA-256 thumbprint as upper-case hex (the SHA-1 Thumbprint property is not used for trust).</summary>
    public static string Sha256Thumbprint(X509Certificate2 certificate) =>
        Convert.ToHexString(SHA256.HashData(certificate.RawData));

    /// <summary>
    /// A DN in .NET's canonical text ("CN=admin, OU=admin, O=Supervisor"): parsing and re-printing makes the
    /// configured text and the certificate's subject comparable whatever spacing or quoting the config uses.
    /// </summary>
    public static string NormalizeSubject(string subject)
    {
        try
        {
            return NormalizeSubject(new X500DistinguishedName(subject));
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"\"{subject}\" is not a distinguished name: {e.Message}", nameof(subject), e);
        }
    }

    private static string NormalizeSubject(X500DistinguishedName name) => name.Format(multiLine: false);

    private static string NormalizeThumbprint(string thumbprint) =>
        thumbprint.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
}
