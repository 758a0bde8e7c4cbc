using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>linear_1 → SiLU → linear_2 over the sinusoidal timestep projection.</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    internal readonly Linear linear_1;
    internal readonly Linear linear_2;

    public TimestepEmbedding(int input, int dim, Device? device)
        : base(nameof(TimestepEmbedding))
    {
        linear_1 = Layers.Linear(input, dim, device);
        linear_2 = Layers.Linear(dim, dim, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = nn.functional.silu(linear_1.forward(input));
        return linear_2.forward(hidden);
    }

    /// <summary>diffusers' get_timestep_embedding: [B] timesteps → [B, dim] (sin, cos; flipped to cos, sin).</summary>
    public static Tensor Sinusoidal(Tensor timesteps, int dim, bool flipSinToCos, double freqShift)
    {
        using var scope = NewDisposeScope();
        var half = dim / 2;
        var exponent = ScalarMath.Times(arange(half, ScalarType.Float32, timesteps.device), -Math.Log(10000) / (half - freqShift));
        var arguments = timesteps.to(ScalarType.Float32).unsqueeze(1).mul(exponent.exp().unsqueeze(0));
        var (sin, cos) = (arguments.sin(), arguments.cos());
        return (flipSinToCos ? cat([cos, sin], 1) : cat([sin, cos], 1)).MoveToOuterDisposeScope();
    }
}
