namespace Supervisor.Protocol.V1;

// protoc emits every message as a `sealed partial class`; these declarations add the markers the Akka
// serializer binding and the gateway rely on. ProtocolMarkerTests checks that no message is missing here.

public sealed partial class SignedCommand : IControlMessage;

public sealed partial class Command : IControlMessage;

public sealed partial class Error : IControlMessage;

public sealed partial class RestartPolicy : IControlMessage;

public sealed partial class NodeConstraints : IControlMessage;

public sealed partial class RunContainer : IControlMessage;

public sealed partial class StopContainer : IControlMessage;

public sealed partial class KillContainer : IControlMessage;

public sealed partial class PauseContainer : IControlMessage;

public sealed partial class ResumeContainer : IControlMessage;

public sealed partial class ExecInContainer : IControlMessage;

public sealed partial class UpdateContainer : IControlMessage;

public sealed partial class CheckpointContainer : IControlMessage;

public sealed partial class RestoreContainer : IControlMessage;

public sealed partial class MigrateContainer : IControlMessage;

public sealed partial class DeleteContainer : IControlMessage;

public sealed partial class GetState : IControlMessage;

public sealed partial class ListContainers : IControlMessage;

public sealed partial class SubscribeEvents : IControlMessage;

public sealed partial class UnsubscribeEvents : IControlMessage;

public sealed partial class ContainerState : IControlMessage;

public sealed partial class RunContainerReply : IControlMessage, IControlReply;

public sealed partial class StopContainerReply : IControlMessage, IControlReply;

public sealed partial class KillContainerReply : IControlMessage, IControlReply;

public sealed partial class PauseContainerReply : IControlMessage, IControlReply;

public sealed partial class ResumeContainerReply : IControlMessage, IControlReply;

public sealed partial class ExecInContainerReply : IControlMessage, IControlReply;

public sealed partial class UpdateContainerReply : IControlMessage, IControlReply;

public sealed partial class CheckpointContainerReply : IControlMessage, IControlReply;

public sealed partial class RestoreContainerReply : IControlMessage, IControlReply;

public sealed partial class PhaseTiming : IControlMessage;

public sealed partial class MigrateContainerReply : IControlMessage, IControlReply;

public sealed partial class DeleteContainerReply : IControlMessage, IControlReply;

public sealed partial class GetStateReply : IControlMessage, IControlReply;

public sealed partial class ListContainersReply : IControlMessage, IControlReply;

public sealed partial class SubscribeEventsReply : IControlMessage, IControlReply;

public sealed partial class UnsubscribeEventsReply : IControlMessage, IControlReply;

public sealed partial class CommandRejected : IControlMessage, IControlReply;

public sealed partial class ContainerCreated : IControlMessage;

public sealed partial class ContainerStarted : IControlMessage;

public sealed partial class ContainerAdopted : IControlMessage;

public sealed partial class ContainerExited : IControlMessage;

public sealed partial class ContainerRestarting : IControlMessage;

public sealed partial class ContainerNotRestarted : IControlMessage;

public sealed partial class ContainerStartFailed : IControlMessage;

public sealed partial class ContainerOomKilled : IControlMessage;

public sealed partial class ContainerPaused : IControlMessage;

public sealed partial class ContainerResumed : IControlMessage;

public sealed partial class ContainerCheckpointed : IControlMessage;

public sealed partial class ContainerRestored : IControlMessage;

public sealed partial class ContainerRemoved : IControlMessage;

public sealed partial class ContainerStats : IControlMessage;

public sealed partial class Event : IControlMessage;

public sealed partial class EventNotification : IControlMessage;
