using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Supervisor.Remote.Security;

/// <summary>
/// Checks a peer certificate against the control plane's own CA (not the system store) and the allowlist,
/// and reads its role. Used twice: by the TLS handshake's validator (<see cref="TlsValidation"/>) and by the
/// gateway for the certificate inside each signed request.
/// </summary>
public sealed class CertificateVerifier
{
    /// <summary>OID of organizationalUnitName, where the role is written.</summary>
    private const string OrganizationalUnitOid = "2.5.4.11";

    private readonly X509Certificate2Collection _ca;
    private readonly CertificateAllowlist _allowlist;
    private readonly TimeProvider _time;

    public CertificateVerifier(X509Certificate2Collection ca, CertificateAllowlist allowlist, TimeProvider? time = null)
    {
        if (ca.Count == 0)
            throw new ArgumentException("no CA certificate given", nameof(ca));
        _ca = ca;
        _allowlist = allowlist;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Null when the certificate chains to the CA and is allowlisted; otherwise why not, in one line.</summary>
    public string? Check(X509Certificate2? certificate)
    {
        if (certificate is null)
            return "no client certificate";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_ca);
        // A private development CA publishes no CRL or OCSP responder; revocation is by removing the
        // certificate from the allowlist.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (!chain.Build(certificate))
        {
            var status = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct();
            return $"certificate {certificate.Subject} is not trusted: {string.Join("; ", status)}";
        }
        if (!_allowlist.Allows(certificate))
            return $"certificate {certificate.Subject} is not on the allowlist";
        return null;
    }

    /// <summary>The role in the subject's OU (admin or operator); null when there is none, or more than one.</summary>
    public static ControlRole? RoleOf(X509Certificate2 certificate)
    {
        ControlRole? role = null;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value != OrganizationalUnitOid)
                continue;
            ControlRole? found = rdn.GetSingleElementValue()?.Trim().ToLowerInvariant() switch
            {
                "admin" => ControlRole.Admin,
                "operator" => ControlRole.Operator,
                _ => null,
            };
            if (found is null)
                continue;
            if (role is not null && role != found)
                return null;
            role = found;
        }
        return role;
    }

    /// <summary>The TLS handshake's view: what <see cref="SslStream"/> reported is replaced by our own chain check.</summary>
    public bool ValidateTlsPeer(X509Certificate2? certificate, SslPolicyErrors errors, out string? reason)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reason = "the peer presented no certificate";
            return false;
        }
        reason = Check(certificate);
        return reason is null;
    }
}
