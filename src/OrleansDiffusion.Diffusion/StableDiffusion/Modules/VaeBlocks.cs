using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>DownEncoderBlock2D: resnets, then downsamplers.0 (asymmetric padding) unless last.</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<Downsample2D>? downsamplers;

    public DownEncoderBlock2D(int input, int output, int layers, int groups, bool downsample, Device? device)
        : base(nameof(DownEncoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i => new ResnetBlock2D(i == 0 ? input : output, output, null, groups, 1e-6, device)).ToArray());
        if (downsample) downsamplers = nn.ModuleList(new Downsample2D(output, true, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var resnet in resnets) x = resnet.forward(x, null);
        if (downsamplers is not null) x = downsamplers[0].forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>UpDecoderBlock2D: resnets, then upsamplers.0 unless last.</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<Upsample2D>? upsamplers;

    public UpDecoderBlock2D(int input, int output, int layers, int groups, bool upsample, Device? device)
        : base(nameof(UpDecoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i => new ResnetBlock2D(i == 0 ? input : output, output, null, groups, 1e-6, device)).ToArray());
        if (upsample) upsamplers = nn.ModuleList(new Upsample2D(output, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var resnet in resnets) x = resnet.forward(x, null);
        if (upsamplers is not null) x = upsamplers[0].forward(x);
        return x.MoveToOuterDisposeScope();
    }
}
