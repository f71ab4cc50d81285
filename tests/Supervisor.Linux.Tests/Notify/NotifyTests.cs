using Supervisor.Linux;
using Supervisor.Linux.Notify;

namespace Supervisor.Linux.Tests.Notify;

public class NotifyTests
{
    [Fact]
    public void EventFd_CountsSignals_AndReadResets()
    {
        using var efd = EventFd.Create();
        Assert.Null(efd.TryRead());
        efd.Signal();
        efd.Signal(2);
        Assert.Equal(3UL, efd.TryRead());
        Assert.Null(efd.TryRead());
    }

    [Fact]
    public void Poll_ReportsOnlyTheReadyDescriptor()
    {
        using var a = EventFd.Create();
        using var b = EventFd.Create();
        Assert.Equal([false, false], FdPoll.WaitReadable([a.Fd, b.Fd], 0));
        b.Signal();
        Assert.Equal([false, true], FdPoll.WaitReadable([a.Fd, b.Fd], -1));
    }

    [Fact]
    public void Inotify_SeesModifyAndDelete()
    {
        var file = Path.Combine(Path.GetTempPath(), "inotify-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "a");
        using var ino = Inotify.Create();
        ino.AddWatch(file, Inotify.IN_MODIFY | Inotify.IN_DELETE_SELF);
        Assert.Empty(ino.ReadMasks());

        File.AppendAllText(file, "b");
        Assert.Equal([true], FdPoll.WaitReadable([ino.Fd], -1));
        Assert.Contains(ino.ReadMasks(), m => (m & Inotify.IN_MODIFY) != 0);

        File.Delete(file);
        Assert.Equal([true], FdPoll.WaitReadable([ino.Fd], -1));
        var masks = ino.ReadMasks();
        Assert.Contains(masks, m => (m & Inotify.IN_DELETE_SELF) != 0);
        Assert.Contains(masks, m => (m & Inotify.IN_IGNORED) != 0);
    }

    [Fact]
    public void Inotify_MissingPath_CarriesOpPathAndErrno()
    {
        using var ino = Inotify.Create();
        var e = Assert.Throws<SyscallException>(() => ino.AddWatch("/nonexistent/x", Inotify.IN_MODIFY));
        Assert.Equal("inotify_add_watch", e.Operation);
        Assert.Equal("/nonexistent/x", e.Path);
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void Disposed_EventFd_Throws()
    {
        var efd = EventFd.Create();
        efd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => efd.Fd);
        efd.Dispose();
    }
}
