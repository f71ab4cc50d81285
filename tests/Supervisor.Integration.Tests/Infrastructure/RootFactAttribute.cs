namespace Supervisor.Integration.Tests.Infrastructure;

/// <summary>A test that needs root (namespaces, cgroups, mounts). CI runs as root, so these always run there.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: creates namespaces, cgroups and mounts";
    }
}
