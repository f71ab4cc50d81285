using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Dispatch.SysMsg;
using Akka.Remote.Serialization;
using Akka.Serialization;

namespace Supervisor.Remote.Security;

/// <summary>
/// Akka.Remote's system message serializer under the same name and identifier, except that it will not build
/// a <see cref="Failed"/> from the wire. Untrusted mode drops every system message a peer sends, but only after
/// the frame was deserialized, and a Failed carries an exception that is rebuilt from the CLR type name in the
/// frame through that type's serialization constructor: a peer could have the control plane construct a type
/// of its choosing (the R5 test's canary exception). Refused by the manifest, before any byte is parsed.
/// </summary>
public sealed class FailedRefusingSystemMessageSerializer : Serializer
{
    private readonly SystemMessageSerializer _inner;

    public FailedRefusingSystemMessageSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _inner = new SystemMessageSerializer(system);
    }

    public override int Identifier => _inner.Identifier;

    public override bool IncludeManifest => _inner.IncludeManifest;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, Type type)
    {
        if (type == typeof(Failed))
            throw new SerializationException("a remote Failed system message is refused by the control plane (its exception type is named by the sender)");
        return _inner.FromBinary(bytes, type);
    }
}
