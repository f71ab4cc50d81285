using Akka.Actor;
using Supervisor.Actors.Runtime;

namespace Supervisor.Actors;

/// <summary>
/// One CRIU checkpoint or restore, as a child of the container actor (one job per request). CRIU's call
/// blocks for as long as the dump or restore takes, so it runs on a dedicated thread while the job keeps a
/// timer: past the timeout the job cancels the call, which kills CRIU; CRIU then lets go of the tasks, and
/// the container is left running as it was (a restore is undone). The job publishes
/// <see cref="CheckpointProgress"/> and reports a <see cref="Result"/> to its parent, then stops. A job
/// stopped early (its parent restarted or stopped) cancels the call the same way.
/// </summary>
public sealed class CheckpointJob : ReceiveActor, IWithTimers
{
    /// <summary>How long a cancelled call may take to come back before the job reports it failed anyway.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(30);

    private readonly Request _request;
    private readonly IContainerRuntime _runtime;
    private readonly CancellationTokenSource _cancel = new();
    private DateTimeOffset _startedAt;
    private bool _timedOut;
    private bool _done;

    public CheckpointJob(Request request, IContainerRuntime runtime)
    {
        _request = request;
        _runtime = runtime;
        Receive<Finished>(f => Report(f.Restored, null));
        Receive<Faulted>(f => Report(null, _timedOut ? $"timed out after {Format(_request.Timeout)}: {f.Error.Message}" : f.Error.Message));
        Receive<TimedOut>(_ =>
        {
            _timedOut = true;
            Publish("timed-out");
            _cancel.Cancel();
            Timers.StartSingleTimer("grace", GraceOver.Instance, CancelGrace);
        });
        Receive<GraceOver>(_ => Report(null, $"timed out after {Format(_request.Timeout)}; criu did not stop"));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public enum Operation
    {
        Checkpoint,
        Restore,
    }

    /// <param name="Bundle">Restore only: the bundle to create the container from when it does not exist.</param>
    /// <param name="Replier">Who gets the command's reply (Nobody for a periodic checkpoint).</param>
    public sealed record Request(string Id, Operation Operation, CheckpointSpec Spec, string Bundle, TimeSpan Timeout, IActorRef Replier);

    /// <summary>Sent to the parent when the job ends. <see cref="Error"/> is null on success; <see cref="Restored"/> is the restored container.</summary>
    public sealed record Result(Request Request, string? Error, ContainerSnapshot? Restored, TimeSpan Duration);

    private sealed record Finished(ContainerSnapshot? Restored);

    private sealed record Faulted(Exception Error);

    private sealed record TimedOut
    {
        public static readonly TimedOut Instance = new();
    }

    private sealed record GraceOver
    {
        public static readonly GraceOver Instance = new();
    }

    public static Props Props(Request request, IContainerRuntime runtime) =>
        Akka.Actor.Props.Create(() => new CheckpointJob(request, runtime));

    public static string Name(Operation op) => op == Operation.Checkpoint ? "checkpoint" : "restore";

    protected override void PreStart()
    {
        _startedAt = Context.System.Scheduler.Now;
        Publish("started");
        Timers.StartSingleTimer("timeout", TimedOut.Instance, _request.Timeout);
        var token = _cancel.Token;
        var r = _request;
        var runtime = _runtime;
        // A dedicated thread (LongRunning): the call blocks for the whole dump, and the runtime finds the
        // CRIU to kill on cancellation among this thread's own children.
        Task.Factory.StartNew(() =>
            {
                if (r.Operation == Operation.Checkpoint)
                {
                    runtime.Checkpoint(r.Id, r.Spec, token);
                    return (ContainerSnapshot?)null;
                }
                return runtime.Restore(r.Id, r.Bundle, r.Spec, token);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .PipeTo(Self, success: s => new Finished(s), failure: e => new Faulted(e is AggregateException { InnerException: { } inner } ? inner : e));
    }

    protected override void PostStop()
    {
        // Not disposed: the blocking call may still be registering on the token.
        if (!_done)
            _cancel.Cancel();
    }

    private void Publish(string stage) =>
        Context.System.EventStream.Publish(new CheckpointProgress(_request.Id, Name(_request.Operation), stage, Context.System.Scheduler.Now - _startedAt));

    private void Report(ContainerSnapshot? restored, string? error)
    {
        if (_done)
            return;
        _done = true;
        Timers.CancelAll();
        Context.Parent.Tell(new Result(_request, error, restored, Context.System.Scheduler.Now - _startedAt));
        Context.Stop(Self);
    }

    private static string Format(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMilliseconds:0} ms";
}
