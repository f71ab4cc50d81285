using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace Supervisor.Remote.Security;

/// <summary>
/// Takes the place of Akka's default JSON serializer (identifier 1, bound to System.Object) in the control
/// plane's ActorSystem. Akka's JSON serializer writes and reads CLR type names (TypeNameHandling.All), so a
/// frame naming serializer 1 would have the daemon construct a type of the sender's choosing before any actor
/// looks at it (the CWE-502 class, security-anchors §6 item 4). Nothing in the control plane needs it: our
/// messages have their own serializer, Akka's system messages theirs. Whatever would fall back to JSON is
/// refused in both directions instead.
/// </summary>
public sealed class RefusingSerializer : Serializer
{
    public RefusingSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>Akka passes the replaced serializer's settings section (serialization-settings.json); it is ignored.</summary>
    public RefusingSerializer(ExtendedActorSystem system, Akka.Configuration.Config settings)
        : base(system)
    {
        _ = settings;
    }

    /// <summary>The identifier of Akka's NewtonSoftJsonSerializer, which this one replaces.</summary>
    public override int Identifier => 1;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"the control plane carries only its protocol; {obj.GetType().FullName} has no serializer");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("the control plane does not deserialize JSON (Akka's type-naming default serializer)");
}
