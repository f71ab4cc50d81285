using System.Globalization;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux;
using Supervisor.Linux.Notify;

namespace Supervisor.Runtime.Cgroups;

/// <summary>An out-of-memory event in a container's memory cgroup.</summary>
/// <param name="Time">When the notifier saw it.</param>
/// <param name="OomKillCount">v2: the cgroup's oom_kill counter after the event; v1: null (the eventfd only counts).</param>
public sealed record OomEvent(DateTimeOffset Time, ulong? OomKillCount);

/// <summary>A live OOM watch. <see cref="Events"/> completes when the cgroup goes away or the watch is disposed.</summary>
public interface IOomNotifier : IDisposable
{
    ChannelReader<OomEvent> Events { get; }

    /// <summary>The events as an async stream; ends when the cgroup goes away.</summary>
    IAsyncEnumerable<OomEvent> ReadAllAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Opens OOM watches. cgroup v1: an eventfd registered with memory.oom_control through cgroup.event_control
/// (the kernel signals it on every OOM, and once more when the cgroup is removed). cgroup v2: inotify on
/// memory.events, reporting each rise of oom_kill.
/// </summary>
public static class OomNotifier
{
    /// <summary>How often the watcher also checks that the cgroup still exists (v2 gives no removal event).</summary>
    private const int LivenessPollMs = 500;

    public static IOomNotifier Open(ICgroupManager manager)
    {
        ArgumentNullException.ThrowIfNull(manager);
        var dir = manager.Path("memory")
            ?? throw new CgroupException("cgroup oom: the container has no memory cgroup");
        return manager.VersionOf("memory") == CgroupVersion.V2 ? new V2Watch(dir) : new V1Watch(dir);
    }

    /// <summary>Parses memory.oom_control ("oom_kill_disable 0\nunder_oom 0\noom_kill 3").</summary>
    public static (bool KillDisabled, bool UnderOom, ulong OomKill) ParseOomControl(string text)
    {
        var kv = ParseKeyValues("memory.oom_control", text);
        return (kv.GetValueOrDefault("oom_kill_disable") == 1, kv.GetValueOrDefault("under_oom") == 1, kv.GetValueOrDefault("oom_kill"));
    }

    /// <summary>Parses memory.events ("low N\nhigh N\nmax N\noom N\noom_kill N\noom_group_kill N").</summary>
    public static IReadOnlyDictionary<string, ulong> ParseMemoryEvents(string text) => ParseKeyValues("memory.events", text);

    private static Dictionary<string, ulong> ParseKeyValues(string file, string text)
    {
        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
                continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v))
                throw new CgroupStatsException(file, line, "expected \"key number\"");
            result[parts[0]] = v;
        }
        return result;
    }

    private abstract class Watch : IOomNotifier
    {
        private readonly Channel<OomEvent> _channel = Channel.CreateUnbounded<OomEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
        private readonly EventFd _wake = EventFd.Create();
        private Thread? _thread;
        private int _disposed;

        protected Watch(string dir) => Dir = dir;

        protected string Dir { get; }

        public ChannelReader<OomEvent> Events => _channel.Reader;

        public IAsyncEnumerable<OomEvent> ReadAllAsync(CancellationToken cancellationToken = default) =>
            _channel.Reader.ReadAllAsync(cancellationToken);

        protected void Start(string name)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = name };
            _thread.Start();
        }

        /// <summary>The descriptor the kernel makes readable on an event.</summary>
        protected abstract int SourceFd { get; }

        /// <summary>Handles readiness of the source; returns false when the cgroup is gone.</summary>
        protected abstract bool OnReady(ChannelWriter<OomEvent> writer);

        protected abstract void CloseSource();

        /// <summary>Releases the wake-up descriptor when a derived constructor fails before the thread starts.</summary>
        protected void AbortConstruction() => _wake.Dispose();

        private void Run()
        {
            Exception? error = null;
            try
            {
                while (true)
                {
                    var ready = FdPoll.WaitReadable([SourceFd, _wake.Fd], LivenessPollMs);
                    if (ready[1] || Volatile.Read(ref _disposed) != 0)
                        break;
                    if (ready[0] && !OnReady(_channel.Writer))
                        break;
                    if (!Directory.Exists(Dir))
                        break;
                }
            }
            catch (Exception e) when (e is SyscallException or CgroupException or IOException)
            {
                error = e;
            }
            finally
            {
                CloseSource();
                _channel.Writer.TryComplete(error);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            _wake.Signal();
            _thread?.Join();
            _wake.Dispose();
            _channel.Writer.TryComplete();
        }
    }

    private sealed class V1Watch : Watch
    {
        private readonly EventFd _efd;
        private readonly SafeFileHandle _oomControl;

        public V1Watch(string dir) : base(dir)
        {
            var control = Path.Combine(dir, "memory.oom_control");
            try
            {
                _oomControl = File.OpenHandle(control, FileMode.Open, FileAccess.Read);
            }
            catch (Exception e) when (CgroupIo.ToErrno(e) is { } errno)
            {
                AbortConstruction();
                throw new CgroupException($"cgroup oom: open {control}: {SyscallException.Describe(errno)}", control, errno, e);
            }
            try
            {
                _efd = EventFd.Create();
            }
            catch
            {
                _oomControl.Dispose();
                AbortConstruction();
                throw;
            }
            try
            {
                // "<eventfd> <fd of memory.oom_control>": the kernel ties the eventfd to OOM notifications.
                var reg = FormattableString.Invariant($"{_efd.Fd} {_oomControl.DangerousGetHandle()}");
                CgroupIo.Real.Write(Path.Combine(dir, "cgroup.event_control"), reg);
            }
            catch
            {
                _efd.Dispose();
                _oomControl.Dispose();
                AbortConstruction();
                throw;
            }
            Start("oom-v1 " + dir);
        }

        protected override int SourceFd => _efd.Fd;

        protected override bool OnReady(ChannelWriter<OomEvent> writer)
        {
            if (_efd.TryRead() is null)
                return true;
            // Removing the cgroup also signals the eventfd; only a live cgroup means an OOM happened.
            if (!File.Exists(Path.Combine(Dir, "cgroup.event_control")))
                return false;
            writer.TryWrite(new OomEvent(DateTimeOffset.UtcNow, null));
            return true;
        }

        protected override void CloseSource()
        {
            _efd.Dispose();
            _oomControl.Dispose();
        }
    }

    private sealed class V2Watch : Watch
    {
        private readonly Inotify _inotify;
        private readonly string _events;
        private ulong _lastKills;

        public V2Watch(string dir) : base(dir)
        {
            _events = Path.Combine(dir, "memory.events");
            Inotify? inotify = null;
            try
            {
                inotify = Inotify.Create();
                inotify.AddWatch(_events, Inotify.IN_MODIFY | Inotify.IN_DELETE_SELF);
                _inotify = inotify;
                _lastKills = ReadKills() ?? 0;
            }
            catch
            {
                inotify?.Dispose();
                AbortConstruction();
                throw;
            }
            Start("oom-v2 " + dir);
        }

        private ulong? ReadKills()
        {
            var text = CgroupIo.Real.ReadOptional(_events);
            return text is null ? null : ParseMemoryEvents(text).GetValueOrDefault("oom_kill");
        }

        protected override int SourceFd => _inotify.Fd;

        protected override bool OnReady(ChannelWriter<OomEvent> writer)
        {
            var masks = _inotify.ReadMasks();
            if (masks.Any(m => (m & (Inotify.IN_DELETE_SELF | Inotify.IN_IGNORED)) != 0))
                return false;
            if (ReadKills() is not { } kills)
                return false;
            if (kills > _lastKills)
            {
                _lastKills = kills;
                writer.TryWrite(new OomEvent(DateTimeOffset.UtcNow, kills));
            }
            return true;
        }

        protected override void CloseSource() => _inotify.Dispose();
    }
}
