using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using Supervisor.Protocol.V1;

namespace Supervisor.Protocol;

/// <summary>
/// Binds a command to the client's certificate. Akka.Remote does not tell an actor which TLS certificate the
/// peer presented, so every <see cref="SignedCommand"/> carries the client's certificate and a signature, with
/// the certificate's private key, over <see cref="Payload"/>: a domain prefix, the request id, the timestamp
/// and the exact command bytes. The gateway checks the certificate (chain, allowlist) and this signature, so a
/// request is attributable to exactly one certificate and cannot be altered or re-targeted in transit.
/// </summary>
public static class RequestSignature
{
    /// <summary>Keeps a signature made for this protocol from being valid for anything else signed with the same key.</summary>
    private static readonly byte[] Domain = Encoding.ASCII.GetBytes("supervisor-control/v1\0");

    /// <summary>The signed bytes: domain, length-prefixed request id, big-endian timestamp, then the command.</summary>
    public static byte[] Payload(string requestId, long timestampUnixMs, ReadOnlySpan<byte> command)
    {
        var id = Encoding.UTF8.GetBytes(requestId);
        var buffer = new byte[Domain.Length + 4 + id.Length + 8 + command.Length];
        var span = buffer.AsSpan();
        Domain.CopyTo(span);
        span = span[Domain.Length..];
        BinaryPrimitives.WriteInt32BigEndian(span, id.Length);
        id.CopyTo(span[4..]);
        span = span[(4 + id.Length)..];
        BinaryPrimitives.WriteInt64BigEndian(span, timestampUnixMs);
        command.CopyTo(span[8..]);
        return buffer;
    }

    /// <summary>Wraps <paramref name="command"/> in a signed envelope. <paramref name="certificate"/> must have its private key (RSA or ECDSA).</summary>
    public static SignedCommand Sign(Command command, X509Certificate2 certificate, string requestId, DateTimeOffset now)
    {
        var bytes = command.ToByteArray();
        var ts = now.ToUnixTimeMilliseconds();
        var payload = Payload(requestId, ts, bytes);
        return new SignedCommand
        {
            RequestId = requestId,
            TimestampUnixMs = ts,
            Certificate = ByteString.CopyFrom(certificate.RawData),
            Signature = ByteString.CopyFrom(SignData(certificate, payload)),
            Command = ByteString.CopyFrom(bytes),
        };
    }

    private static byte[] SignData(X509Certificate2 certificate, byte[] payload)
    {
        using var ecdsa = certificate.GetECDsaPrivateKey();
        if (ecdsa is not null)
            return ecdsa.SignData(payload, HashAlgorithmName.SHA256);
        using var rsa = certificate.GetRSAPrivateKey()
            ?? throw new CryptographicException("the client certificate has no RSA or ECDSA private key");
        return rsa.SignData(payload, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
    }

    /// <summary>True when <paramref name="signature"/> over the envelope's payload verifies with <paramref name="certificate"/>'s public key.</summary>
    public static bool Verify(SignedCommand envelope, X509Certificate2 certificate)
    {
        var payload = Payload(envelope.RequestId, envelope.TimestampUnixMs, envelope.Command.Span);
        var signature = envelope.Signature.Span;
        using var ecdsa = certificate.GetECDsaPublicKey();
        if (ecdsa is not null)
            return ecdsa.VerifyData(payload, signature, HashAlgorithmName.SHA256);
        using var rsa = certificate.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
    }
}
