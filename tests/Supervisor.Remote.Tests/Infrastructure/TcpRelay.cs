using System.Net;
using System.Net.Sockets;

namespace Supervisor.Remote.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay standing in for the network between a client and the daemon (the machine has no
/// iptables): every connection to <see cref="Port"/> is piped to the target port. <see cref="Stall"/> stops
/// carrying bytes in both directions while keeping the connections open (a partition: nothing arrives and
/// nothing is refused), <see cref="Resume"/> lets them flow again, <see cref="CutAll"/> closes every connection.
/// </summary>
public sealed class TcpRelay : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private TaskCompletionSource _open = NewGate(open: true);

    /// <param name="targetPort">Where connections go; may be set later (<see cref="Target"/>), before the first one.</param>
    public TcpRelay(int targetPort = 0)
    {
        Target = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptLoop();
    }

    public int Port { get; }

    public int Target { get; set; }

    /// <summary>How many bytes have crossed the relay (either way) since it started.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    private long _bytes;

    public int Accepted => Volatile.Read(ref _accepted);

    private int _accepted;

    private static TaskCompletionSource NewGate(bool open)
    {
        var g = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
            g.SetResult();
        return g;
    }

    public void Stall()
    {
        lock (_connections)
        {
            if (_open.Task.IsCompleted)
                _open = NewGate(open: false);
        }
    }

    public void Resume()
    {
        lock (_connections)
            _open.TrySetResult();
    }

    public void CutAll()
    {
        lock (_connections)
        {
            foreach (var c in _connections)
                c.Dispose();
            _connections.Clear();
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(IPAddress.Loopback, Target);
            }
            catch (SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }
            lock (_connections)
            {
                _connections.Add(inbound);
                _connections.Add(outbound);
            }
            _ = Pump(inbound, outbound);
            _ = Pump(outbound, inbound);
        }
    }

    private async Task Pump(TcpClient from, TcpClient to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            var src = from.GetStream();
            var dst = to.GetStream();
            while (true)
            {
                var n = await src.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                    break;
                // A stalled relay holds what it read (and stops reading) until it is resumed or cut.
                Task gate;
                lock (_connections)
                    gate = _open.Task;
                await gate.WaitAsync(_stop.Token);
                await dst.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                Interlocked.Add(ref _bytes, n);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException or InvalidOperationException)
        {
        }
        from.Dispose();
        to.Dispose();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        CutAll();
        Resume();
    }
}
