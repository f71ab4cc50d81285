using System.Collections.Frozen;
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

    private static readonly FrozenDictionary<string, MessageParser> Parsers =
        SupervisorReflection.Descriptor.MessageTypes.ToFrozenDictionary(d => d.FullName, d => d.Parser, StringComparer.Ordinal);

    public ControlProtocolSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => SerializerId;

    /// <summary>Every top-level message of supervisor.proto, by manifest.</summary>
    public static IList<MessageDescriptor> Messages => SupervisorReflection.Descriptor.MessageTypes;

    public override string Manifest(object o) => o switch
    {
        IControlMessage m => m.Descriptor.FullName,
        _ => throw new ArgumentException($"{o.GetType().FullName} is not a control protocol message", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        IControlMessage m => m.ToByteArray(),
        _ => throw new ArgumentException($"{obj.GetType().FullName} is not a control protocol message", nameof(obj)),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Parsers.TryGetValue(manifest, out var parser))
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
