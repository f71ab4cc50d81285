using Akka.Actor;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Xunit.Abstractions;

namespace Supervisor.Actors.Tests;

/// <summary>Checkpoint and restore through <see cref="CheckpointJob"/> children, against the fake runtime.</summary>
public class CheckpointJobSpecs(ITestOutputHelper output) : SupervisorSpecBase(output)
{
    private const string Web = """
        supervisor.containers = [ { id = "web", bundle = "/bundles/web", restart.policy = always } ]
        supervisor.checkpoint.timeout = 30s
        """;

    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_checkpoint_that_leaves_the_container_running_changes_nothing_else()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();

        var reply = await sup.Ask<CommandSucceeded>(new CheckpointContainer("web", "/images/web", LeaveRunning: true), Ask);
        Assert.Equal("checkpoint", reply.Command);
        var progress = await NextEvent<CheckpointProgress>();
        Assert.Equal(("checkpoint", "started"), (progress.Operation, progress.Stage));
        var done = await NextEvent<ContainerCheckpointed>();
        Assert.Equal("/images/web", done.ImagePath);
        Assert.True(done.LeaveRunning);

        var info = await State(sup, "web");
        Assert.Equal((ContainerStatus.Running, started.Pid), (info.Status, info.Pid));
        Assert.Equal(new CheckpointSpec("/images/web", true), Assert.Single(Runtime.Dumps));
        Assert.Equal(1, Runtime.Count("run"));
    }

    [Fact]
    public async Task A_checkpointed_container_is_not_restarted_and_a_restore_is_watched_like_a_fresh_start()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();

        // CRIU kills the dumped tree: the init's exit is part of the checkpoint, not a failure for "always".
        await sup.Ask<CommandSucceeded>(new CheckpointContainer("web", "/images/web"), Ask);
        var done = await NextEvent<ContainerCheckpointed>();
        Assert.False(done.LeaveRunning);
        Assert.Equal(ContainerStatus.Checkpointed, (await State(sup, "web")).Status);
        Clock.Advance(TimeSpan.FromSeconds(30));
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, Runtime.Count("run"));
        var start = await sup.Ask<CommandFailed>(new StartContainer("web"), Ask);
        Assert.Contains("checkpointed", start.Error);

        await sup.Ask<CommandSucceeded>(new RestoreContainer("web", "/images/web"), Ask);
        Assert.Equal("restore", (await NextEvent<CheckpointProgress>()).Operation);
        var restored = await NextEvent<ContainerRestored>();
        Assert.NotEqual(started.Pid, restored.Pid);
        var info = await State(sup, "web");
        Assert.Equal((ContainerStatus.Running, restored.Pid, 0), (info.Status, info.Pid, info.RestartCount));

        // The restored init is watched: its crash goes through the restart policy.
        Runtime.Exit("web", 3);
        var exited = await NextEvent<ContainerExited>();
        Assert.Equal((restored.Pid, 3), (exited.Pid, exited.ExitCode));
        Clock.Advance((await NextEvent<ContainerRestarting>()).Delay);
        Assert.Equal(1, (await NextEvent<ContainerStarted>()).RestartCount);
    }

    [Fact]
    public async Task A_job_past_its_timeout_kills_criu_fails_and_leaves_the_container_running()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        using var gate = new ManualResetEventSlim(false);
        Runtime.CriuGate = gate;

        var reply = sup.Ask<CommandFailed>(new CheckpointContainer("web", "/images/web", Timeout: TimeSpan.FromSeconds(10)), Ask);
        await NextEvent<CheckpointProgress>(p => p.Stage == "started");
        // While CRIU works, commands that would change the container are refused.
        var delete = await sup.Ask<CommandFailed>(new DeleteContainer("web", Force: true), Ask);
        Assert.Contains("in progress", delete.Error);
        var again = await sup.Ask<CommandFailed>(new CheckpointContainer("web", "/images/other"), Ask);
        Assert.Contains("in progress", again.Error);

        Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("timed-out", (await NextEvent<CheckpointProgress>()).Stage);
        var failed = await reply;
        Assert.Contains("timed out after 10 s", failed.Error);
        Assert.Contains("timed out", (await NextEvent<CheckpointFailed>()).Error);
        Assert.Equal(1, Runtime.Count("checkpoint-killed"));

        var info = await State(sup, "web");
        Assert.Equal((ContainerStatus.Running, started.Pid), (info.Status, info.Pid));
        Assert.Empty(Runtime.Dumps);
        // Still supervised: the next exit restarts it.
        Runtime.Exit("web", 1);
        await NextEvent<ContainerRestarting>();
    }

    [Fact]
    public async Task A_failed_checkpoint_is_reported_and_the_container_keeps_running()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        Runtime.CriuError = "Error (criu/cr-dump.c:2093): Dumping FAILED.";

        var failed = await sup.Ask<CommandFailed>(new CheckpointContainer("web", "/images/web"), Ask);
        Assert.Contains("Dumping FAILED", failed.Error);
        Assert.Equal("checkpoint", (await NextEvent<CheckpointFailed>()).Operation);
        var info = await State(sup, "web");
        Assert.Equal((ContainerStatus.Running, started.Pid), (info.Status, info.Pid));

        // A restore of a container that is not checkpointed is refused before any job starts.
        Runtime.CriuError = null;
        var restore = await sup.Ask<CommandFailed>(new RestoreContainer("web", "/images/web"), Ask);
        Assert.Contains("not checkpointed", restore.Error);
        Assert.Equal(0, Runtime.Count("restore"));
    }

    [Fact]
    public async Task A_restore_with_a_bundle_brings_in_a_container_the_supervisor_did_not_know()
    {
        var sup = StartSupervisor(Settings());
        var unknown = await sup.Ask<CommandFailed>(new RestoreContainer("moved", "/images/moved"), Ask);
        Assert.Contains("does not exist", unknown.Error);

        await sup.Ask<CommandSucceeded>(new RestoreContainer("moved", "/images/moved", Bundle: "/bundles/moved"), Ask);
        var restored = await NextEvent<ContainerRestored>();
        Assert.Equal("moved", restored.Id);
        Assert.Equal("/bundles/moved", Runtime.Get("moved")!.Bundle);
        Assert.Equal(["moved"], (await sup.Ask<ContainerList>(ListContainers.Instance, Ask)).Ids);
    }

    [Fact]
    public async Task A_configured_checkpoint_interval_checkpoints_the_running_container_periodically()
    {
        var sup = StartSupervisor(Settings("""
            supervisor.containers = [ { id = "web", bundle = "/bundles/web", restart.policy = always, checkpoint { interval = 30s, image-root = "/images" } } ]
            """));
        var started = await NextEvent<ContainerStarted>();
        // A round trip: the actor has set its timers once it answers.
        await State(sup, "web");
        Clock.Advance(TimeSpan.FromSeconds(30));
        var first = await NextEvent<ContainerCheckpointed>();
        Assert.Equal("/images/web", first.ImagePath);
        Assert.True(first.LeaveRunning);
        Clock.Advance(TimeSpan.FromSeconds(30));
        await NextEvent<ContainerCheckpointed>();
        Assert.Equal(2, Runtime.Dumps.Count);
        Assert.Equal((ContainerStatus.Running, started.Pid), ((await State(sup, "web")).Status, (await State(sup, "web")).Pid));
    }
}
