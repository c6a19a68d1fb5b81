/* spec/framework: the software stacks a job can name (training.framework) - what each
 * overlaps by default and the two constants it adds to the kernels' microbenchmarked
 * speed. The constants are the step model's only fitted ones; `ultrasim validate --cv`
 * refits them without each group of the calibration set, and docs/MODEL.md 6.6 gives the
 * shipped values' fit. */
#include <string.h>

#include "spec/spec.h"

static const struct {
    const char *name;
    bool tp_overlap;     /* overlaps TP collectives with GEMMs by default */
    bool tp_overlap_can; /* can overlap them: search tries both where the job leaves it open */
    struct spec_fw_params p;
} frameworks[SPEC_FW_COUNT] = {
    /* {compute_eff, kernel_host_s}: fitted on all 138 calibration cases (mean |error|;
     * `ultrasim validate --cv software --format json`, params_all_cases; docs/MODEL.md 6.6).
     * A framework no case runs takes the median of the fitted ones, as cross-validation
     * gives a held-out framework. kernel_host_s, the least time a kernel takes, is bounded to
     * 50 us; megatron's and torchtitan's fits sit on the bound - more than a launch costs the
     * host, so it carries what else makes small kernels slow there (per-expert GEMMs,
     * synchronisation, Python dispatch). */
    [SPEC_FW_AUTO] = {"auto", false, false, {1.0, 0.0}},
    /* Megatron-Core (Megatron-LM, NeMo, Megatron-Bridge): the NeMo and Bridge performance
     * recipes set tp_comm_overlap (Transformer Engine userbuffers) whenever tp > 1. */
    [SPEC_FW_MEGATRON] = {"megatron", true, true, {0.822, 5.0e-5}},
    /* torchtitan: async TP is opt-in (parallelism.enable_async_tensor_parallel, with
     * torch.compile). */
    [SPEC_FW_TORCHTITAN] = {"torchtitan", false, true, {0.716, 5.0e-5}},
    /* MaxText: XLA schedules collectives beside the matmuls that do not need them. */
    [SPEC_FW_MAXTEXT] = {"maxtext", true, true, {0.891, 5.8e-6}},
    /* Neuron (NeuronX Distributed / neuronx-nemo-megatron): no TP overlap documented. */
    [SPEC_FW_NEURON] = {"neuron", false, false, {0.805, 6.3e-6}},
    /* DeepSpeed (Megatron-DeepSpeed): no calibration case; no TP overlap. */
    [SPEC_FW_DEEPSPEED] = {"deepspeed", false, false, {0.814, 2.8e-5}},
};

const char *spec_framework_name(int fw)
{
    return fw >= 0 && fw < SPEC_FW_COUNT ? frameworks[fw].name : "?";
}

int spec_framework_default(const struct spec_system *sys)
{
    const char *f = sys->chip.family;
    if (strncmp(f, "google-tpu", 10) == 0)
        return SPEC_FW_MAXTEXT;
    if (strncmp(f, "aws-trainium", 12) == 0)
        return SPEC_FW_NEURON;
    return SPEC_FW_MEGATRON;
}

struct spec_fw_params spec_framework_params(int fw)
{
    return frameworks[fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT ? fw : SPEC_FW_MEGATRON].p;
}

void spec_job_use_framework(struct spec_job *j, int fw, bool tp_overlap_given)
{
    j->train.framework = fw;
    j->train.fw = spec_framework_params(fw);
    j->par.tp_comm_overlap_given = tp_overlap_given;
    if (!tp_overlap_given)
        j->par.tp_comm_overlap = spec_framework_tp_overlap(fw);
}

bool spec_framework_tp_overlap_can(int fw)
{
    return fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT && frameworks[fw].tp_overlap_can;
}

/* XLA schedules async collectives with its latency-hiding scheduler under a memory limit
 * (openxla/xla xla/service/latency_hiding_scheduler.h, SchedulerConfig::memory_limit; the GPU
 * backend sets it in xla/service/gpu/gpu_hlo_schedule.cc GetSchedulerMemoryLimit to the device
 * memory less the program's inputs and outputs, times xla_gpu_memory_limit_slop_factor; the TPU
 * backend's setting is not public): an all-gather that would push the live set past it is not
 * started early. PyTorch FSDP2, which torchtitan runs, prefetches a fixed one layer ahead
 * (pytorch/pytorch#128884: "allows two all-gather output tensors to be alive at once") and
 * Megatron-FSDP a fixed budget ("None prefetches one successor", SchedulePolicy), whatever the
 * memory; DeepSpeed a fixed number of elements (zero_optimization.stage3_prefetch_bucket_size). */
bool spec_framework_prefetch_fits_memory(int fw)
{
    return fw == SPEC_FW_MAXTEXT;
}

/* XLA assigns every buffer of a compiled step when it compiles (buffer assignment over the
 * heap simulator's liveness, openxla xla/service/buffer_assignment.cc, heap_simulator.cc), and
 * on a TPU the runtime gives a program a fixed bytes_limit below the HBM (jax-ml/jax#1491,
 * pytorch/xla#7086): no caching allocator fragments it at run time and nothing else of the
 * runtime's is taken from inside it. PyTorch stacks (Megatron, torchtitan, DeepSpeed) and
 * Neuron allocate at run time, beside the runtime's context and the communication
 * libraries' buffers. */
bool spec_framework_caching_allocator(int fw)
{
    return fw != SPEC_FW_MAXTEXT;
}

/* NeuronX Distributed Training configures its optimizer with one sharding switch,
 * distributed_strategy.zero1 (aws-neuron/neuronx-distributed-training@d9a345e2
 * src/neuronx_distributed_training/lightning_modules/model/base.py, _initialize_nxd_config:
 * optimizer_config = {"zero_one_enabled": ..., "grad_clipping", "max_grad_norm"} and the
 * pipeline's use_zero1_optimizer; its example configs set `zero1: True`): ZeRO-1 or plain data
 * parallelism, no sharded gradients or weights. Megatron-Core (Megatron-FSDP's optim,
 * optim_grads, optim_grads_params), torchtitan (FSDP2), MaxText (fsdp) and DeepSpeed offer
 * all three stages. */
int spec_framework_max_zero(int fw)
{
    return fw == SPEC_FW_NEURON ? 1 : 3;
}

/* MaxText's fp8 (qwix's QtProvider for dot_general, and the gmm of its sparse MoE) quantizes
 * each weight inside the call that uses it: megablox ops.py _gmm_fwd runs qpl.quantize(rhs, ...)
 * on every forward (AI-Hypercomputer/maxtext@998b3e34, maxtext-tutorial-v1.5.0,
 * src/MaxText/kernels/megablox/ops.py), so a re-run forward casts again. Transformer Engine
 * casts a weight once per step (is_first_microbatch) and reuses it. docs/MODEL.md 1.2. */
bool spec_framework_casts_weights_per_call(int fw)
{
    return fw == SPEC_FW_MAXTEXT;
}

bool spec_framework_tp_overlap(int fw)
{
    return fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT && frameworks[fw].tp_overlap;
}

/* Megatron-Core applies the router probabilities inside the experts' activation since 0.13
 * (NVIDIA/Megatron-LM@2659630721, "Memory efficient token permutation", April 2025:
 * experts.py weighted_bias_swiglu_impl / activation_func_with_probs; token_dispatcher.py's
 * combine calls unpermute without probs), so the combine keeps only its index maps. MaxText
 * (moe.py, unpermute: einsum of the expert outputs with the router weights), torchtitan and
 * Megatron-Core before 0.13 (moe_utils.py unpermute: permuted_tokens * permuted_probs) scale
 * the expert outputs at the combine, and autograd keeps them for the weights' gradient. */
bool spec_moe_probs_at_combine(const struct spec_training *t)
{
    if (t->moe_probs != SPEC_MOE_PROBS_AUTO)
        return t->moe_probs == SPEC_MOE_PROBS_COMBINE;
    return t->framework != SPEC_FW_MEGATRON;
}

/* MaxText keeps its parameters in weight_dtype alone and casts them to the compute dtype
 * where they are used; base.yml's default is `weight_dtype: float32` (AI-Hypercomputer/maxtext
 * MaxText/configs/base.yml at tpu-recipes-v0.1.4 and a0fceb5), and optax's adam keeps m and
 * v in the parameters' dtype. Megatron and the others keep bf16 weights beside an fp32
 * master in the optimizer. A fp8_params job keeps the master (spec/job.c refuses both). */
int spec_weight_dtype_of(const struct spec_training *t)
{
    if (t->weight_dtype != SPEC_WEIGHT_AUTO)
        return t->weight_dtype;
    return t->framework == SPEC_FW_MAXTEXT && !t->fp8_params ? SPEC_WEIGHT_FP32 : SPEC_WEIGHT_MIXED;
}

/* Sources beside the declaration (spec.h). */
int spec_fp8_quant_launches(int fp8_recipe)
{
    switch (fp8_recipe) {
    case SPEC_FP8_RECIPE_TENSORWISE:
        return 3;
    case SPEC_FP8_RECIPE_MXFP8:
        return 1;
    default:
        return 0;
    }
}
