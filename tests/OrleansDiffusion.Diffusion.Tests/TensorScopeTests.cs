using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests;

public class TensorScopeTests
{
    [Fact]
    public void A_synchronous_test_holds_its_tensors_in_a_dispose_scope()
    {
        var scope = CurrentDisposeScope;
        Assert.NotNull(scope);
        using var made = zeros(2);
        using var derived = made + 1;
        Assert.Contains(made, scope.DisposablesView);
        Assert.Contains(derived, scope.DisposablesView);
    }

    [Fact]
    public void Tensors_made_to_be_shared_between_tests_are_outside_the_scope()
    {
        using var shared = TensorScopeAttribute.Kept(() => ones(2) * 3);
        Assert.DoesNotContain(shared, CurrentDisposeScope!.DisposablesView);
        Assert.Equal(3f, shared[1].item<float>());
    }

    [Fact]
    public async Task An_asynchronous_test_gets_no_scope()
    {
        // It may resume on another thread, where the scope it opened would not be.
        Assert.Null(CurrentDisposeScope);
        await Task.Yield();
        Assert.Null(CurrentDisposeScope);
    }
}
