using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Remote.Serialization;
using Akka.Serialization;

namespace Supervisor.Remote.Security;

/// <summary>
/// Akka.Remote's serializer of miscellaneous messages (Identify, ActorIdentity, Status, RemoteWatcher
/// heartbeats, PoisonPill, Kill...), under the same name and identifier, except for two messages it will not
/// build from the wire (refused by manifest, before any byte is parsed):
/// <list type="bullet">
/// <item><see cref="Kill"/>: untrusted mode drops what implements IPossiblyHarmful, and in Akka.NET 1.5.74
/// PoisonPill does but Kill does not, so an authenticated peer could Kill any actor of the control plane by
/// path, including the /user guardian, whose failure terminates the whole ActorSystem (the remote daemon test
/// found this).</item>
/// <item><see cref="Status.Failure"/>: its exception is rebuilt from the CLR type name in the frame through that
/// type's serialization constructor, which would let a peer construct a type of its choosing (the R5 test's
/// canary exception). Nothing sends the control plane a Status.Failure: replies go the other way.</item>
/// </list>
/// </summary>
public sealed class KillRefusingMiscSerializer : SerializerWithStringManifest
{
    private readonly MiscMessageSerializer _inner;
    private readonly string _kill;
    private readonly string _failure;

    public KillRefusingMiscSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _inner = new MiscMessageSerializer(system);
        _kill = _inner.Manifest(Kill.Instance);
        _failure = _inner.Manifest(new Status.Failure(null));
    }

    public override int Identifier => _inner.Identifier;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override string Manifest(object o) => _inner.Manifest(o);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest == _kill)
            throw new SerializationException("a remote Kill is refused by the control plane");
        if (manifest == _failure)
            throw new SerializationException("a remote Status.Failure is refused by the control plane (its exception type is named by the sender)");
        return _inner.FromBinary(bytes, manifest);
    }
}
