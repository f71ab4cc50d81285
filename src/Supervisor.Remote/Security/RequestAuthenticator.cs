using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;

namespace Supervisor.Remote.Security;

/// <summary>The outcome of authenticating one request: the peer, or why it was refused.</summary>
public sealed record AuthenticationResult(AuthenticatedPeer? Peer, string? Error)
{
    public static AuthenticationResult Ok(AuthenticatedPeer peer) => new(peer, null);

    public static AuthenticationResult Fail(string error) => new(null, error);
}

/// <summary>
/// Authenticates a <see cref="SignedCommand"/>: the embedded certificate must chain to the CA, be
/// allowlisted and carry a role; the timestamp must be fresh; and the signature over the request id,
/// timestamp and command bytes must verify with the certificate's key. Only then is the command decoded
/// and acted on. The TLS layer checks the connection's certificate too; this check is what ties each
/// request to a certificate, since Akka.Remote does not hand the TLS peer certificate to actors.
/// </summary>
public sealed class RequestAuthenticator
{
    /// <summary>A request id is a client-chosen token (a UUID in practice); the cap keeps dedup memory bounded.</summary>
    public const int MaxRequestIdLength = 128;

    /// <summary>Larger than any real client certificate; parsing is refused above it.</summary>
    private const int MaxCertificateSize = 16 * 1024;

    private readonly CertificateVerifier _verifier;
    private readonly TimeSpan _maxAge;
    private readonly TimeProvider _time;

    public RequestAuthenticator(CertificateVerifier verifier, TimeSpan maxAge, TimeProvider? time = null)
    {
        _verifier = verifier;
        _maxAge = maxAge;
        _time = time ?? TimeProvider.System;
    }

    public TimeSpan MaxAge => _maxAge;

    public AuthenticationResult Authenticate(SignedCommand envelope)
    {
        if (string.IsNullOrEmpty(envelope.RequestId) || envelope.RequestId.Length > MaxRequestIdLength)
            return AuthenticationResult.Fail($"the request id must be 1 to {MaxRequestIdLength} characters");
        if (envelope.Certificate.IsEmpty)
            return AuthenticationResult.Fail("the request carries no certificate");
        if (envelope.Certificate.Length > MaxCertificateSize)
            return AuthenticationResult.Fail("the request's certificate is too large");
        if (envelope.Signature.IsEmpty)
            return AuthenticationResult.Fail("the request is not signed");

        var sent = DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(envelope.TimestampUnixMs, 0, 253402300799999));
        var skew = _time.GetUtcNow() - sent;
        if (skew.Duration() > _maxAge)
            return AuthenticationResult.Fail($"the request's timestamp is {(long)skew.TotalSeconds} s off (more than {(long)_maxAge.TotalSeconds} s): stale, replayed, or the clocks differ");

        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(envelope.Certificate.Span);
        }
        catch (CryptographicException e)
        {
            return AuthenticationResult.Fail($"the request's certificate cannot be read: {e.Message}");
        }
        using (certificate)
        {
            if (_verifier.Check(certificate) is { } why)
                return AuthenticationResult.Fail(why);
            bool valid;
            try
            {
                valid = RequestSignature.Verify(envelope, certificate);
            }
            catch (CryptographicException)
            {
                valid = false;
            }
            if (!valid)
                return AuthenticationResult.Fail($"the request's signature does not verify with the certificate of {certificate.Subject}");
            if (CertificateVerifier.RoleOf(certificate) is not { } role)
                return AuthenticationResult.Fail($"certificate {certificate.Subject} carries no role (OU=admin or OU=operator)");
            return AuthenticationResult.Ok(new AuthenticatedPeer(role, certificate.Subject, CertificateAllowlist.Sha256Thumbprint(certificate)));
        }
    }
}
