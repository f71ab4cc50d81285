using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Supervisor.Protocol.V1;

namespace Supervisor.Protocol;

/// <summary>
/// The Akka serializer of the control protocol. The manifest is the message's full protobuf name
/// ("supervisor.v1.RunContainer"), never a CLR type name, and only the messages of supervisor.proto can
/// be built from the wire: an unknown manifest is a <see cref="SerializationException"/>, so a frame cannot
/// make the receiver instantiate a type of its choosing. Unknown fields inside a known message are kept
/// (Google.Protobuf preserves them), which is what lets old and new peers relay each other's messages.
/// </summary>
public sealed class ControlProtocolSerializer : SerializerWithStringManifest
{
    /// <summary>Written into every frame; never change it.</summary>
    public const int SerializerId = 7301;

    /// <summary>The name HOCON binds (reference.conf).</summary>
    public const string Name = "supervisor-control";

    /// <summary>The protobuf package of supervisor.proto: a manifest is this plus the message's name.</summary>
    private const string Package = "supervisor.v1.";

    public ControlProtocolSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => SerializerId;

    /// <summary>Every top-level message of supervisor.proto, by manifest.</summary>
    public static IList<MessageDescriptor> Messages => SupervisorReflection.Descriptor.MessageTypes;

    /// <remarks>
    /// The manifest is built from the CLR name rather than read from <c>m.Descriptor</c>: the first access
    /// to any descriptor builds the reflection descriptors of the whole .proto file (about 150 ms of a
    /// one-shot client's start-up), and a top-level message's full name is its package plus its name, which
    /// protoc keeps as the class name. Only top-level messages of supervisor.proto carry
    /// <see cref="IControlMessage"/> (Markers.cs); the protocol tests check the manifest of every one
    /// against its descriptor.
    /// </remarks>
    public override string Manifest(object o) => o switch
    {
        IControlMessage m => Package + m.GetType().Name,
        _ => throw new ArgumentException($"{o.GetType().FullName} is not a control protocol message", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        IControlMessage m => m.ToByteArray(),
        _ => throw new ArgumentException($"{obj.GetType().FullName} is not a control protocol message", nameof(obj)),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (ParserOf(manifest) is not { } parser)
            throw new SerializationException($"unknown control protocol message \"{manifest}\"");
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SerializationException($"malformed {manifest}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The parser of each message of supervisor.proto by manifest, and null for anything else: the only
    /// types a frame can have built. A closed list rather than a map built from the file descriptor, which
    /// would cost the reflection descriptors at start-up; the protocol tests round-trip every message of
    /// the descriptor through it, so a message added to the .proto but not here fails them.
    /// </summary>
    private static MessageParser? ParserOf(string manifest) => manifest switch
    {
        "supervisor.v1.SignedCommand" => SignedCommand.Parser,
        "supervisor.v1.Command" => Command.Parser,
        "supervisor.v1.Error" => Error.Parser,
        "supervisor.v1.RestartPolicy" => RestartPolicy.Parser,
        "supervisor.v1.NodeConstraints" => NodeConstraints.Parser,
        "supervisor.v1.RunContainer" => RunContainer.Parser,
        "supervisor.v1.StopContainer" => StopContainer.Parser,
        "supervisor.v1.KillContainer" => KillContainer.Parser,
        "supervisor.v1.PauseContainer" => PauseContainer.Parser,
        "supervisor.v1.ResumeContainer" => ResumeContainer.Parser,
        "supervisor.v1.ExecInContainer" => ExecInContainer.Parser,
        "supervisor.v1.UpdateContainer" => UpdateContainer.Parser,
        "supervisor.v1.CheckpointContainer" => CheckpointContainer.Parser,
        "supervisor.v1.RestoreContainer" => RestoreContainer.Parser,
        "supervisor.v1.MigrateContainer" => MigrateContainer.Parser,
        "supervisor.v1.DeleteContainer" => DeleteContainer.Parser,
        "supervisor.v1.GetState" => GetState.Parser,
        "supervisor.v1.ListContainers" => ListContainers.Parser,
        "supervisor.v1.SubscribeEvents" => SubscribeEvents.Parser,
        "supervisor.v1.UnsubscribeEvents" => UnsubscribeEvents.Parser,
        "supervisor.v1.ContainerState" => ContainerState.Parser,
        "supervisor.v1.RunContainerReply" => RunContainerReply.Parser,
        "supervisor.v1.StopContainerReply" => StopContainerReply.Parser,
        "supervisor.v1.KillContainerReply" => KillContainerReply.Parser,
        "supervisor.v1.PauseContainerReply" => PauseContainerReply.Parser,
        "supervisor.v1.ResumeContainerReply" => ResumeContainerReply.Parser,
        "supervisor.v1.ExecInContainerReply" => ExecInContainerReply.Parser,
        "supervisor.v1.UpdateContainerReply" => UpdateContainerReply.Parser,
        "supervisor.v1.CheckpointContainerReply" => CheckpointContainerReply.Parser,
        "supervisor.v1.RestoreContainerReply" => RestoreContainerReply.Parser,
        "supervisor.v1.PhaseTiming" => PhaseTiming.Parser,
        "supervisor.v1.MigrateContainerReply" => MigrateContainerReply.Parser,
        "supervisor.v1.DeleteContainerReply" => DeleteContainerReply.Parser,
        "supervisor.v1.GetStateReply" => GetStateReply.Parser,
        "supervisor.v1.ListContainersReply" => ListContainersReply.Parser,
        "supervisor.v1.SubscribeEventsReply" => SubscribeEventsReply.Parser,
        "supervisor.v1.UnsubscribeEventsReply" => UnsubscribeEventsReply.Parser,
        "supervisor.v1.CommandRejected" => CommandRejected.Parser,
        "supervisor.v1.ContainerCreated" => ContainerCreated.Parser,
        "supervisor.v1.ContainerStarted" => ContainerStarted.Parser,
        "supervisor.v1.ContainerAdopted" => ContainerAdopted.Parser,
        "supervisor.v1.ContainerExited" => ContainerExited.Parser,
        "supervisor.v1.ContainerRestarting" => ContainerRestarting.Parser,
        "supervisor.v1.ContainerNotRestarted" => ContainerNotRestarted.Parser,
        "supervisor.v1.ContainerStartFailed" => ContainerStartFailed.Parser,
        "supervisor.v1.ContainerOomKilled" => ContainerOomKilled.Parser,
        "supervisor.v1.ContainerPaused" => ContainerPaused.Parser,
        "supervisor.v1.ContainerResumed" => ContainerResumed.Parser,
        "supervisor.v1.ContainerCheckpointed" => ContainerCheckpointed.Parser,
        "supervisor.v1.ContainerRestored" => ContainerRestored.Parser,
        "supervisor.v1.ContainerRemoved" => ContainerRemoved.Parser,
        "supervisor.v1.ContainerStats" => ContainerStats.Parser,
        "supervisor.v1.Event" => Event.Parser,
        "supervisor.v1.EventNotification" => EventNotification.Parser,
        _ => null,
    };

    /// <summary>The binding of <see cref="IControlMessage"/> as HOCON (the embedded reference.conf), for a system that carries other traffic too.</summary>
    public static Akka.Configuration.Config DefaultConfig() =>
        Akka.Configuration.ConfigurationFactory.FromResource("Supervisor.Protocol.reference.conf", typeof(ControlProtocolSerializer).Assembly);

    /// <summary>
    /// The binding for an ActorSystem that carries only the control protocol (the control plane's and the
    /// client's). Akka.NET picks the first binding in configuration order whose type the message is assignable
    /// to, not the most specific one, and Akka.Remote's reference.conf binds <see cref="IMessage"/> to its own
    /// serializer (which names CLR types on the wire and builds any IMessage type a frame names). Binding
    /// IMessage itself to this serializer takes that path away: whichever binding matches first is ours, and
    /// a protobuf message outside supervisor.proto can neither be sent nor built.
    /// </summary>
    public static Akka.Configuration.Config ControlPlaneConfig() =>
        Akka.Configuration.ConfigurationFactory.ParseString($$"""
            akka.actor.serialization-bindings {
              "Google.Protobuf.IMessage, Google.Protobuf" = {{Name}}
            }
            """).WithFallback(DefaultConfig());
}
