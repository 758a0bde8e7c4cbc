using System.Reflection;
using TorchSharp;
using Xunit.Sdk;
using static TorchSharp.torch;

[assembly: OrleansDiffusion.Diffusion.Tests.TensorScope]

namespace OrleansDiffusion.Diffusion.Tests;

/// <summary>
/// Every synchronous test runs inside a TorchSharp dispose scope. TorchSharp frees a collected tensor on the finalizer
/// thread even while a native call still reads it, and the JIT ends a temporary's life as soon as its handle is read: a
/// chain such as <c>x.eq(y).all().item&lt;bool&gt;()</c> or <c>(a + b).contiguous()</c> can then crash the whole test host
/// (it did, in <c>at::native::abs</c>). The scope holds every tensor the test makes until the test ends, and frees them
/// then. xUnit runs a synchronous test's before, body and after on one thread, which the thread-bound scope needs, as long
/// as the body leaves no work queued on the test's synchronization context (a synchronous test that blocks on asynchronous
/// work runs it on the thread pool: <see cref="TestJobs.Run"/>). An asynchronous test may resume elsewhere, so it gets no
/// scope (its chains hold their temporaries explicitly: <see cref="TensorAssertions"/>). Tensors shared between tests are
/// made through <see cref="Kept"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class TensorScopeAttribute : BeforeAfterTestAttribute
{
    [ThreadStatic] private static DisposeScope? _open;

    public override void Before(MethodInfo methodUnderTest)
    {
        if (IsAsynchronous(methodUnderTest)) return;
        _open = NewDisposeScope();
    }

    public override void After(MethodInfo methodUnderTest)
    {
        if (IsAsynchronous(methodUnderTest)) return;
        var open = _open ?? throw new InvalidOperationException($"{methodUnderTest.Name} ended on another thread than it started on: its tensor scope is not here");
        _open = null;
        open.Dispose();
    }

    /// <summary>Whether the test returns something to await (a task or a value task).</summary>
    private static bool IsAsynchronous(MethodInfo method) => method.ReturnType.GetMethod(nameof(Task.GetAwaiter)) is not null;

    /// <summary>Makes something that outlives the test that first needs it (a shared texture, a shared denoiser): every
    /// tensor made here is detached from that test's scope.</summary>
    public static T Kept<T>(Func<T> make)
    {
        using var scope = NewDisposeScope();
        var made = make();
        scope.Detach(scope.DisposablesView.ToArray());
        return made;
    }
}
