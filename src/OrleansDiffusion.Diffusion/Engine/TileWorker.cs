using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>
/// One tile's state between steps: its window of the latent (in the scheduler's space) plus the plan's
/// context around it. Lives wherever the tile lives (in-process, or in a tile grain on an accelerator).
/// </summary>
public sealed class TileWorker : IDisposable
{
    private readonly JobPlan _plan;
    private Tensor _state; // [C, h + 2·context, w + 2·context]

    public TileWorker(JobPlan plan, TileWindow window, NoiseField noise, IScheduler scheduler, Device? device = null)
    {
        _plan = plan;
        Window = window;
        var layout = plan.Layout;
        var context = plan.Context;
        var rows = TileLayout.AxisIndices(window.Y - context, window.Height + 2 * context, layout.CanvasHeight, layout.Wrap);
        var columns = TileLayout.AxisIndices(window.X - context, window.Width + 2 * context, layout.CanvasWidth, layout.Wrap);
        using var initial = noise.Sample(0, plan.Channels, rows, columns);
        using var scaled = ScalarMath.Times(initial, scheduler.InitNoiseSigma); // held while to() reads it
        _state = scaled.to(device ?? CPU);
    }

    /// <summary>A tile resumed from <paramref name="state"/> (window plus context, as it adopted it), taking ownership.</summary>
    public TileWorker(JobPlan plan, TileWindow window, Tensor state, Device? device = null)
    {
        _plan = plan;
        Window = window;
        var expected = new long[] { plan.Channels, window.Height + 2 * plan.Context, window.Width + 2 * plan.Context };
        if (!state.shape.SequenceEqual(expected))
            throw new ArgumentException($"tile {window.Index} keeps [{string.Join(", ", expected)}], got [{string.Join(", ", state.shape)}]", nameof(state));
        _state = device is null || device.type == TorchSharp.DeviceType.CPU ? state : state.to(device);
        if (!ReferenceEquals(_state, state)) state.Dispose();
    }

    public TileWindow Window { get; }

    /// <summary>The state, window plus context (a view: dispose it, never modify it).</summary>
    public Tensor State() => _state.alias();

    /// <summary>The window itself, without context (a view of the state).</summary>
    public Tensor Core => _plan.Context == 0
        ? _state.alias()
        : _state.narrow(1, _plan.Context, Window.Height).narrow(2, _plan.Context, Window.Width);

    /// <summary>
    /// The denoiser's input for a step that needs <paramref name="halo"/> pixels of context: cut from the
    /// kept context when there is one (exact), else padded from the window itself — mirrored, or wrapped
    /// along an axis that the window spans completely on a tileable canvas.
    /// </summary>
    public Tensor Input(int halo)
    {
        var context = _plan.Context;
        if (context >= halo)
            return _state.narrow(1, context - halo, Window.Height + 2 * halo).narrow(2, context - halo, Window.Width + 2 * halo);
        if (context != 0) throw new InvalidOperationException($"tile keeps {context} pixels of context but the step needs {halo}");

        // Mirrored (or wrapped) by index, which, unlike reflection padding, also serves a halo wider than the window.
        var layout = _plan.Layout;
        var wrapX = layout.Wrap && Window.Width == layout.CanvasWidth;
        var wrapY = layout.Wrap && Window.Height == layout.CanvasHeight;
        using var rows = tensor(TileLayout.AxisIndices(-halo, Window.Height + 2 * halo, Window.Height, wrapY), device: _state.device);
        using var columns = tensor(TileLayout.AxisIndices(-halo, Window.Width + 2 * halo, Window.Width, wrapX), device: _state.device);
        using var padRows = _state.index_select(1, rows);
        return padRows.index_select(2, columns);
    }

    /// <summary>Replaces the state (window plus context) with <paramref name="next"/>, taking ownership.</summary>
    public void Adopt(Tensor next)
    {
        if (!next.shape.SequenceEqual(_state.shape))
            throw new ArgumentException($"tile {Window.Index} keeps [{string.Join(", ", _state.shape)}] (window plus context), got [{string.Join(", ", next.shape)}]", nameof(next));
        if (!ReferenceEquals(next, _state)) _state.Dispose();
        _state = next;
    }

    /// <summary>Canvas coordinates of the window's rows and columns (for noise injected at this tile).</summary>
    public (long[] Rows, long[] Columns) CoreIndices()
    {
        var layout = _plan.Layout;
        return (TileLayout.AxisIndices(Window.Y, Window.Height, layout.CanvasHeight, layout.Wrap),
            TileLayout.AxisIndices(Window.X, Window.Width, layout.CanvasWidth, layout.Wrap));
    }

    public void Dispose() => _state.Dispose();
}
