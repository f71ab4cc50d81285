using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Remote.Serialization;
using Akka.Serialization;

namespace Supervisor.Remote.Security;

/// <summary>
/// Akka.Remote's serializer of miscellaneous messages (Identify, ActorIdentity, Status, RemoteWatcher
/// heartbeats, PoisonPill, Kill...), under the same name and identifier, except that it will not build a
/// <see cref="Kill"/> from the wire. Untrusted mode drops what implements IPossiblyHarmful, and in Akka.NET
/// 1.5.74 PoisonPill does but Kill does not: an authenticated peer could Kill any actor of the control
/// plane by path, including the /user guardian, whose failure terminates the whole ActorSystem (the remote
/// daemon test found this). Refusing to deserialize it closes that path whatever the target.
/// </summary>
public sealed class KillRefusingMiscSerializer : SerializerWithStringManifest
{
    private readonly MiscMessageSerializer _inner;

    public KillRefusingMiscSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _inner = new MiscMessageSerializer(system);
    }

    public override int Identifier => _inner.Identifier;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override string Manifest(object o) => _inner.Manifest(o);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var message = _inner.FromBinary(bytes, manifest);
        if (message is Kill)
            throw new SerializationException("a remote Kill is refused by the control plane");
        return message;
    }
}
