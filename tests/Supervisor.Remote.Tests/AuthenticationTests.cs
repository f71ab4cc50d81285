using System.Net.Security;
using Google.Protobuf;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Security;
using Supervisor.Remote.Tests.Infrastructure;

namespace Supervisor.Remote.Tests;

/// <summary>Binding each request to a certificate: chain, allowlist, role, freshness and signature.</summary>
public sealed class AuthenticationTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherCa = new("Other CA");

    public void Dispose()
    {
        _pki.Dispose();
        _otherCa.Dispose();
    }

    private RequestAuthenticator Authenticator(params string[] subjects) =>
        new(new CertificateVerifier(_pki.CaCollection, new CertificateAllowlist(
            subjects.Length > 0 ? subjects : ["CN=admin, OU=admin, O=Supervisor Test", "CN=op, OU=operator, O=Supervisor Test", "CN=norole, O=Supervisor Test", "CN=rsa, OU=admin, O=Supervisor Test"], [])),
            TimeSpan.FromSeconds(60));

    private static Command Kill() => new() { Kill = new KillContainer { Id = "web", Signal = 9 } };

    [Fact]
    public void A_signed_request_of_an_allowlisted_certificate_yields_its_role()
    {
        using var admin = _pki.Issue("admin", "admin");
        using var op = _pki.Issue("op", "operator");
        using var rsa = _pki.Issue("rsa", "admin", rsa: true);
        var auth = Authenticator();
        Assert.Equal(ControlRole.Admin, auth.Authenticate(RequestSignature.Sign(Kill(), admin, "r1", DateTimeOffset.UtcNow)).Peer?.Role);
        Assert.Equal(ControlRole.Operator, auth.Authenticate(RequestSignature.Sign(Kill(), op, "r2", DateTimeOffset.UtcNow)).Peer?.Role);
        Assert.Equal(ControlRole.Admin, auth.Authenticate(RequestSignature.Sign(Kill(), rsa, "r3", DateTimeOffset.UtcNow)).Peer?.Role);
    }

    private static void Refused(AuthenticationResult r, string reasonPart)
    {
        Assert.Null(r.Peer);
        Assert.Contains(reasonPart, r.Error);
    }

    [Fact]
    public void A_certificate_of_another_ca_is_refused()
    {
        using var foreign = _otherCa.Issue("admin", "admin");
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), foreign, "r", DateTimeOffset.UtcNow)), "is not trusted");
    }

    [Fact]
    public void A_certificate_of_the_ca_that_is_not_allowlisted_is_refused()
    {
        using var intruder = _pki.Issue("intruder", "admin");
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), intruder, "r", DateTimeOffset.UtcNow)), "is not on the allowlist");
    }

    [Fact]
    public void An_expired_certificate_is_refused()
    {
        using var old = _pki.Issue("admin", "admin", DateTimeOffset.UtcNow.AddDays(-20), DateTimeOffset.UtcNow.AddDays(-10));
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), old, "r", DateTimeOffset.UtcNow)), "is not trusted");
    }

    [Fact]
    public void A_certificate_without_a_role_is_refused()
    {
        using var norole = _pki.Issue("norole", null);
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), norole, "r", DateTimeOffset.UtcNow)), "carries no role");
    }

    [Fact]
    public void A_stale_or_future_timestamp_is_refused()
    {
        using var admin = _pki.Issue("admin", "admin");
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), admin, "r", DateTimeOffset.UtcNow.AddMinutes(-5))), "stale, replayed");
        Refused(Authenticator().Authenticate(RequestSignature.Sign(Kill(), admin, "r", DateTimeOffset.UtcNow.AddMinutes(5))), "stale, replayed");
    }

    [Fact]
    public void A_changed_command_id_or_timestamp_breaks_the_signature()
    {
        using var admin = _pki.Issue("admin", "admin");
        var auth = Authenticator();
        var signed = RequestSignature.Sign(Kill(), admin, "r", DateTimeOffset.UtcNow);

        var tampered = signed.Clone();
        tampered.Command = new Command { Kill = new KillContainer { Id = "db", Signal = 9 } }.ToByteString();
        Refused(auth.Authenticate(tampered), "signature does not verify");

        var otherId = signed.Clone();
        otherId.RequestId = "r2";
        Refused(auth.Authenticate(otherId), "signature does not verify");

        var otherTime = signed.Clone();
        otherTime.TimestampUnixMs += 1;
        Refused(auth.Authenticate(otherTime), "signature does not verify");
    }

    [Fact]
    public void Presenting_someone_elses_certificate_with_my_key_fails()
    {
        using var admin = _pki.Issue("admin", "admin");
        using var op = _pki.Issue("op", "operator");
        var mine = RequestSignature.Sign(Kill(), op, "r", DateTimeOffset.UtcNow);
        mine.Certificate = ByteString.CopyFrom(admin.RawData);
        Refused(Authenticator().Authenticate(mine), "signature does not verify");
    }

    [Fact]
    public void Unsigned_or_certificate_less_requests_are_refused()
    {
        var auth = Authenticator();
        Refused(auth.Authenticate(new SignedCommand { RequestId = "r", TimestampUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Command = Kill().ToByteString() }),
            "no certificate");
        using var admin = _pki.Issue("admin", "admin");
        var unsigned = RequestSignature.Sign(Kill(), admin, "r", DateTimeOffset.UtcNow);
        unsigned.Signature = ByteString.Empty;
        Refused(auth.Authenticate(unsigned), "not signed");
        var garbage = RequestSignature.Sign(Kill(), admin, "r", DateTimeOffset.UtcNow);
        garbage.Certificate = ByteString.CopyFrom([1, 2, 3]);
        Refused(auth.Authenticate(garbage), "cannot be read");
        Refused(auth.Authenticate(RequestSignature.Sign(Kill(), admin, new string('x', 200), DateTimeOffset.UtcNow)), "request id");
    }

    [Fact]
    public void The_tls_validator_wants_a_certificate_of_the_ca_on_the_allowlist()
    {
        var verifier = new CertificateVerifier(_pki.CaCollection, new CertificateAllowlist(["CN=admin,OU=admin,O=Supervisor Test"], []));
        using var admin = _pki.Issue("admin", "admin");
        using var foreign = _otherCa.Issue("admin", "admin");
        using var intruder = _pki.Issue("intruder", "admin");
        // SslStream reports our private CA as untrusted (it is not in the system store); our own check decides.
        Assert.True(verifier.ValidateTlsPeer(admin, SslPolicyErrors.RemoteCertificateChainErrors, out _));
        Assert.False(verifier.ValidateTlsPeer(foreign, SslPolicyErrors.None, out var r1));
        Assert.Contains("not trusted", r1);
        Assert.False(verifier.ValidateTlsPeer(intruder, SslPolicyErrors.None, out var r2));
        Assert.Contains("allowlist", r2);
        Assert.False(verifier.ValidateTlsPeer(null, SslPolicyErrors.RemoteCertificateNotAvailable, out var r3));
        Assert.Contains("no certificate", r3);
    }

    [Fact]
    public void Allowlisted_by_thumbprint()
    {
        using var admin = _pki.Issue("whoever", "admin");
        var thumb = CertificateAllowlist.Sha256Thumbprint(admin);
        var list = new CertificateAllowlist([], [string.Join(':', thumb.Chunk(2).Select(c => new string(c))).ToLowerInvariant()]);
        Assert.True(list.Allows(admin));
        using var other = _pki.Issue("whoever", "admin");
        Assert.False(list.Allows(other));
    }
}
