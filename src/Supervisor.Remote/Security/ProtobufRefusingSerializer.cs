using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace Supervisor.Remote.Security;

/// <summary>
/// Takes the place of Akka.Remote's protobuf serializer (identifier 2) in the control plane's ActorSystem.
/// That serializer reads a CLR type name from the frame's manifest and builds whatever Google.Protobuf message
/// type it names through the type's static parser, so a peer could have the daemon construct any protobuf
/// type loaded in the process, not just the control protocol's (the R5 test shows its canary being built).
/// The control plane binds every protobuf message to the protocol's own serializer, which accepts only the
/// messages of supervisor.proto by their protobuf names, so identifier 2 has nothing legitimate to carry.
/// </summary>
public sealed class ProtobufRefusingSerializer : Serializer
{
    public ProtobufRefusingSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>The identifier of Akka.Remote's ProtobufSerializer, which this one replaces.</summary>
    public override int Identifier => 2;

    public override bool IncludeManifest => true;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"the control plane carries only its protocol; {obj.GetType().FullName} has no serializer");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("the control plane does not build protobuf messages by CLR type name (only the control protocol's)");
}
