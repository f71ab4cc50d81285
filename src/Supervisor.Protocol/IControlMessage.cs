using Google.Protobuf;

namespace Supervisor.Protocol;

/// <summary>
/// Marker of every message of the remote control protocol (supervisor.proto). Akka.Remote binds every
/// <see cref="IMessage"/> to its own protobuf serializer, which writes CLR type names on the wire; the more
/// specific binding of this interface routes ours to <see cref="ControlProtocolSerializer"/> instead.
/// </summary>
public interface IControlMessage : IMessage;

/// <summary>A reply to one command: the request it answers and, when it failed, the typed error.</summary>
public interface IControlReply : IControlMessage
{
    string RequestId { get; set; }

    V1.Error Error { get; set; }
}
