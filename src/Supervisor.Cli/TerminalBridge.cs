using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Terminal;

namespace Supervisor.Cli;

/// <summary>
/// Connects the caller's terminal to a container's pty for a foreground `run`/`exec -t`: the user's tty
/// goes raw (the container's pty does the line editing and turns ^C into SIGINT for the container's
/// foreground process), bytes are copied both ways, and window size changes follow the user's terminal.
/// </summary>
internal sealed class TerminalBridge : IDisposable
{
    private readonly SafeHandle _pty;
    private readonly IDisposable? _raw;
    private readonly PosixSignalRegistration? _winch;
    private readonly Thread _output;

    public TerminalBridge(SafeHandle pty)
    {
        _pty = pty;
        bool interactive = Tty.IsTerminal(0);
        if (interactive)
        {
            _raw = Tty.MakeRaw(0);
            Resize();
            _winch = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, ctx =>
            {
                ctx.Cancel = true;
                Resize();
            });
        }
        var master = new SafeFileHandle(pty.DangerousGetHandle(), ownsHandle: false);
        var input = new Thread(() => Copy(new FileStream(new SafeFileHandle(0, false), FileAccess.Read, 1), new FileStream(master, FileAccess.Write, 1)))
        {
            IsBackground = true,
            Name = "tty-in",
        };
        _output = new Thread(() => Copy(new FileStream(master, FileAccess.Read, 1), Console.OpenStandardOutput()))
        {
            IsBackground = true,
            Name = "tty-out",
        };
        input.Start();
        _output.Start();
    }

    private void Resize()
    {
        if (Tty.GetSize(0) is { } size)
        {
            try
            {
                Tty.SetSize(_pty, size.Rows, size.Cols);
            }
            catch (Supervisor.Linux.SyscallException)
            {
                // The pty is gone (the container exited); nothing to resize.
            }
        }
    }

    private static void Copy(Stream from, Stream to)
    {
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = from.Read(buffer, 0, buffer.Length)) > 0)
            {
                to.Write(buffer, 0, n);
                to.Flush();
            }
        }
        catch (IOException)
        {
            // EIO on the master once every slave fd is closed: the container side is done.
        }
    }

    /// <summary>Waits briefly for the last output of the container, then restores the user's terminal.</summary>
    public void Dispose()
    {
        _output.Join(TimeSpan.FromSeconds(2));
        _winch?.Dispose();
        _raw?.Dispose();
    }
}
