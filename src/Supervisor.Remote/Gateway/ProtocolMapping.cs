using Supervisor.Actors;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Runtime;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.State;
using Wire = Supervisor.Protocol.V1;

namespace Supervisor.Remote.Gateway;

/// <summary>Conversions between the protobuf protocol and the supervisor's own records (Supervisor.Actors.Protocol).</summary>
public static class ProtocolMapping
{
    public static Wire.Error Error(ErrorCode code, string message) => new() { Code = code, Message = message };

    /// <summary>An empty reply of the type that answers <paramref name="command"/>, carrying <paramref name="error"/>.</summary>
    public static IControlReply ReplyFor(Command? command, string requestId, Wire.Error? error)
    {
        IControlReply reply = command?.KindCase switch
        {
            Command.KindOneofCase.Run => new RunContainerReply(),
            Command.KindOneofCase.Stop => new StopContainerReply(),
            Command.KindOneofCase.Kill => new KillContainerReply(),
            Command.KindOneofCase.Pause => new PauseContainerReply(),
            Command.KindOneofCase.Resume => new ResumeContainerReply(),
            Command.KindOneofCase.Exec => new ExecInContainerReply(),
            Command.KindOneofCase.Update => new UpdateContainerReply(),
            Command.KindOneofCase.Checkpoint => new CheckpointContainerReply(),
            Command.KindOneofCase.Restore => new RestoreContainerReply(),
            Command.KindOneofCase.Migrate => new MigrateContainerReply(),
            Command.KindOneofCase.Delete => new DeleteContainerReply(),
            Command.KindOneofCase.GetState => new GetStateReply(),
            Command.KindOneofCase.List => new ListContainersReply(),
            Command.KindOneofCase.SubscribeEvents => new SubscribeEventsReply(),
            Command.KindOneofCase.UnsubscribeEvents => new UnsubscribeEventsReply(),
            _ => new CommandRejected(),
        };
        reply.RequestId = requestId;
        if (error is not null)
            reply.Error = error;
        return reply;
    }

    /// <summary>The error code of a supervisor's <see cref="CommandFailed"/>, from what its message says.</summary>
    public static Wire.Error FromFailure(CommandFailed failed)
    {
        var m = failed.Error;
        var code = m.Contains("does not exist", StringComparison.Ordinal) ? ErrorCode.NotFound
            : m.Contains("already exists", StringComparison.Ordinal) ? ErrorCode.AlreadyExists
            : m.Contains("not supported", StringComparison.Ordinal) ? ErrorCode.Unsupported
            : ErrorCode.FailedPrecondition;
        return Error(code, m);
    }

    public static ContainerState ToState(ContainerInfo info, OciState? oci, string node)
    {
        var s = new ContainerState
        {
            Id = info.Id,
            Status = info.Status.ToOci(),
            Pid = info.Pid,
            RestartPolicy = info.Restart,
            RestartCount = info.RestartCount,
            ManuallyStopped = info.ManuallyStopped,
            RestartPending = info.RestartPending,
            LastOomKilled = info.LastOomKilled,
            Node = node,
        };
        if (info.LastExitCode is { } code)
            s.LastExitCode = code;
        if (oci is not null)
        {
            s.Bundle = oci.Bundle;
            s.Rootfs = oci.Rootfs;
            s.CreatedUnixMs = oci.Created.ToUnixTimeMilliseconds();
            s.Owner = oci.Owner;
            if (oci.Annotations is not null)
                foreach (var (k, v) in oci.Annotations)
                    s.Annotations[k] = v;
        }
        return s;
    }

    /// <summary>A container's state as another cluster node's agent reported it.</summary>
    public static ContainerState ToState(Supervisor.Cluster.NodeContainerState n)
    {
        var s = new ContainerState
        {
            Id = n.Id,
            Status = n.Status,
            Pid = n.Pid,
            RestartPolicy = n.Restart,
            RestartCount = n.RestartCount,
            ManuallyStopped = n.ManuallyStopped,
            RestartPending = n.RestartPending,
            LastOomKilled = n.LastOomKilled,
            Node = n.Node,
            Bundle = n.Bundle ?? "",
            Rootfs = n.Rootfs ?? "",
            CreatedUnixMs = n.CreatedUnixMs,
            Owner = n.Owner ?? "",
        };
        if (n.LastExitCode is { } code)
            s.LastExitCode = code;
        if (n.Annotations is not null)
            foreach (var (k, v) in n.Annotations)
                s.Annotations[k] = v;
        return s;
    }

    /// <summary>
    /// The cluster's placement constraints for a run's <see cref="NodeConstraints"/>: role and labels as they are,
    /// and node as a node's cluster address (empty strings mean "any").
    /// </summary>
    public static Supervisor.Cluster.PlacementConstraints ToPlacement(NodeConstraints? c) =>
        c is null
            ? Supervisor.Cluster.PlacementConstraints.None
            : new Supervisor.Cluster.PlacementConstraints(
                string.IsNullOrEmpty(c.Role) ? null : c.Role,
                new SortedDictionary<string, string>(c.Labels, StringComparer.Ordinal),
                string.IsNullOrEmpty(c.Node) ? null : c.Node);

    /// <summary>The OCI state shape the local CLI prints, from a remote <see cref="ContainerState"/>.</summary>
    public static OciState ToOciState(ContainerState s) => new()
    {
        Id = s.Id,
        Status = s.Status,
        Pid = s.Pid,
        Bundle = s.Bundle,
        Rootfs = s.Rootfs,
        Created = DateTimeOffset.FromUnixTimeMilliseconds(s.CreatedUnixMs),
        Owner = s.Owner,
        Annotations = s.Annotations.Count == 0 ? null : s.Annotations.ToDictionary(),
        ExitCode = s.Status == "stopped" && s.HasLastExitCode ? s.LastExitCode : null,
    };

    public static Resources ToResources(Wire.UpdateContainer u)
    {
        MemoryResources? memory = u.HasMemoryLimitBytes || u.HasMemorySwapBytes
            ? new MemoryResources { Limit = u.HasMemoryLimitBytes ? u.MemoryLimitBytes : null, Swap = u.HasMemorySwapBytes ? u.MemorySwapBytes : null }
            : null;
        CpuResources? cpu = u.HasCpuShares || u.HasCpuQuotaUs || u.HasCpuPeriodUs || u.HasCpusetCpus
            ? new CpuResources
            {
                Shares = u.HasCpuShares ? u.CpuShares : null,
                Quota = u.HasCpuQuotaUs ? u.CpuQuotaUs : null,
                Period = u.HasCpuPeriodUs ? u.CpuPeriodUs : null,
                Cpus = u.HasCpusetCpus ? u.CpusetCpus : null,
            }
            : null;
        return new Resources
        {
            Memory = memory,
            Cpu = cpu,
            Pids = u.HasPidsLimit ? new PidsResources { Limit = u.PidsLimit } : null,
        };
    }

    /// <summary>The protobuf form of a supervisor event; null for an event the protocol does not carry.</summary>
    public static Event? ToEvent(IContainerEvent e, string node)
    {
        var ev = new Event { Node = node };
        switch (e)
        {
            case Actors.ContainerCreated c:
                ev.Created = new Wire.ContainerCreated { Id = c.Id, Pid = c.Pid };
                break;
            case Actors.ContainerStarted c:
                ev.Started = new Wire.ContainerStarted { Id = c.Id, Pid = c.Pid, RestartCount = c.RestartCount };
                break;
            case Actors.ContainerAdopted c:
                ev.Adopted = new Wire.ContainerAdopted { Id = c.Id, Status = c.Status.ToOci(), Pid = c.Pid };
                break;
            case Actors.ContainerExited c:
                ev.Exited = new Wire.ContainerExited
                {
                    Id = c.Id, Pid = c.Pid, ExitCode = c.ExitCode, Signal = c.Signal, OomKilled = c.OomKilled,
                    FinishedAtUnixMs = c.FinishedAt.ToUnixTimeMilliseconds(),
                };
                break;
            case Actors.ContainerRestarting c:
                ev.Restarting = new Wire.ContainerRestarting { Id = c.Id, DelayMs = (long)c.Delay.TotalMilliseconds, RestartCount = c.RestartCount };
                break;
            case Actors.ContainerNotRestarted c:
                ev.NotRestarted = new Wire.ContainerNotRestarted { Id = c.Id, Reason = c.Reason };
                break;
            case Actors.ContainerStartFailed c:
                ev.StartFailed = new Wire.ContainerStartFailed { Id = c.Id, Error = c.Error };
                break;
            case Actors.ContainerOomKilled c:
                ev.OomKilled = new Wire.ContainerOomKilled { Id = c.Id, TimeUnixMs = c.Time.ToUnixTimeMilliseconds() };
                break;
            case Actors.ContainerPaused c:
                ev.Paused = new Wire.ContainerPaused { Id = c.Id };
                break;
            case Actors.ContainerResumed c:
                ev.Resumed = new Wire.ContainerResumed { Id = c.Id };
                break;
            case Actors.ContainerCheckpointed c:
                ev.Checkpointed = new Wire.ContainerCheckpointed { Id = c.Id, ImagePath = c.ImagePath };
                break;
            case Actors.ContainerRestored c:
                ev.Restored = new Wire.ContainerRestored { Id = c.Id, Pid = c.Pid };
                break;
            case Actors.ContainerRemoved c:
                ev.Removed = new Wire.ContainerRemoved { Id = c.Id };
                break;
            case Actors.ContainerStats c:
                ev.Stats = new Wire.ContainerStats
                {
                    Id = c.Id,
                    TimeUnixMs = c.Time.ToUnixTimeMilliseconds(),
                    CpuUsageTotalNs = c.Cgroups.Cpu.Usage.Total,
                    MemoryUsageBytes = c.Cgroups.Memory.Usage.Usage,
                    MemoryLimitBytes = c.Cgroups.Memory.Usage.Limit,
                    PidsCurrent = c.Cgroups.Pids.Current,
                    PidsLimit = c.Cgroups.Pids.Limit,
                };
                break;
            default:
                return null;
        }
        return ev;
    }

    /// <summary>The container id an event is about.</summary>
    public static string IdOf(Event e) => e.KindCase switch
    {
        Event.KindOneofCase.Created => e.Created.Id,
        Event.KindOneofCase.Started => e.Started.Id,
        Event.KindOneofCase.Adopted => e.Adopted.Id,
        Event.KindOneofCase.Exited => e.Exited.Id,
        Event.KindOneofCase.Restarting => e.Restarting.Id,
        Event.KindOneofCase.NotRestarted => e.NotRestarted.Id,
        Event.KindOneofCase.StartFailed => e.StartFailed.Id,
        Event.KindOneofCase.OomKilled => e.OomKilled.Id,
        Event.KindOneofCase.Paused => e.Paused.Id,
        Event.KindOneofCase.Resumed => e.Resumed.Id,
        Event.KindOneofCase.Checkpointed => e.Checkpointed.Id,
        Event.KindOneofCase.Restored => e.Restored.Id,
        Event.KindOneofCase.Removed => e.Removed.Id,
        Event.KindOneofCase.Stats => e.Stats.Id,
        _ => "",
    };
}
