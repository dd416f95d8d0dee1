"""Export multi-class XGBoost / LightGBM models to ONNX, three ways, from one tree IR.

`forest_from_xgboost` / `forest_from_lightgbm` read the boosters' own dumps into a `Forest`
(per tree: feature, float32 threshold, true/false children, leaf value; the comparison mode;
the per-class base margin). From it:

- `to_tree_ensemble` -> one ai.onnx.ml `TreeEnsembleClassifier` node (what onnxmltools
  emits, and what onnxruntime runs natively). The chosen serving format: tract runs it with
  the fast operator that the `ensemble` crate registers (docs/trees-in-tract.md).
- `to_gemm` -> hummingbird's GEMM strategy as plain ai.onnx ops (Gather, Less, MatMul,
  Equal, MatMul, ReduceSum, Softmax).
- `to_tree_trav` -> hummingbird's tree_trav strategy (Gather / GatherElements / Where per
  level, unrolled to the maximum depth).

Exactness rules (all three exports):
- XGBoost goes left when `x < t` on float32 (its thresholds are float32): `BRANCH_LT`, `Less`.
- LightGBM goes left when `(double)x <= t` with a float64 threshold. For a float32 `x` that is
  `x <= t32` where `t32` is the largest float32 `<= t` (rounding *down*, not to nearest,
  which would send an `x` equal to the rounded-up float to the wrong side).
- Base margins: XGBoost 3's per-class `base_score` (margin space for multi:softprob); LightGBM
  folds its init score into the first trees' leaves, so its base is 0.
- Leaf values are summed in float32 (the ONNX op and the tensor graphs work in float32), the
  boosters sum in float32 (XGBoost) or float64 (LightGBM): expect ~1e-7 differences.
- Missing values are NOT supported: the features are finite by construction
  (docs/features.md). The TreeEnsemble export still records each node's default direction
  (`nodes_missing_value_tracks_true`), the tensor exports send NaN wherever the comparison does.
- Categorical splits are not supported (the schema has none): the readers refuse them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ML_OPSET = 3  # ai.onnx.ml
ONNX_OPSET = 17


@dataclass
class Tree:
    """One tree, nodes numbered from 0 (the root). Leaves have feature -1 and children -1."""

    feature: np.ndarray  # int64 [n]
    threshold: np.ndarray  # float32 [n]
    true_child: np.ndarray  # int64 [n]: taken when the comparison holds
    false_child: np.ndarray  # int64 [n]
    value: np.ndarray  # float64 [n]: leaf value (0 for internal nodes)
    default_true: np.ndarray  # bool [n]: where NaN would go (not used by the tensor exports)

    @property
    def is_leaf(self) -> np.ndarray:
        return self.feature < 0

    def depth(self) -> int:
        d = np.zeros(len(self.feature), dtype=np.int64)
        for i in range(len(self.feature)):  # parents precede children in both readers
            if not self.is_leaf[i]:
                d[self.true_child[i]] = d[i] + 1
                d[self.false_child[i]] = d[i] + 1
        return int(d.max())


@dataclass
class Forest:
    trees: list[Tree]
    tree_class: np.ndarray  # int64 [n_trees]: class that each tree votes for
    n_classes: int
    n_features: int
    mode: str  # "BRANCH_LT" (XGBoost) or "BRANCH_LEQ" (LightGBM)
    base: np.ndarray  # float32 [n_classes]: margin added before the softmax
    meta: dict = field(default_factory=dict)

    def margins(self, x: np.ndarray) -> np.ndarray:
        """Reference evaluation in numpy (float64 sum): [n, n_classes] raw margins."""
        x = np.asarray(x, dtype=np.float32)
        out = np.tile(self.base.astype(np.float64), (len(x), 1))
        for tree, cls in zip(self.trees, self.tree_class):
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                internal = ~tree.is_leaf[node]
                if not internal.any():
                    break
                f = np.where(internal, tree.feature[node], 0)
                xv = x[np.arange(len(x)), f]
                t = tree.threshold[node]
                cond = xv < t if self.mode == "BRANCH_LT" else xv <= t
                nxt = np.where(cond, tree.true_child[node], tree.false_child[node])
                node = np.where(internal, nxt, node)
            out[:, cls] += tree.value[node]
        return out


def _f32_floor(t: float) -> np.float32:
    """Largest float32 <= t."""
    r = np.float32(t)
    if float(r) > t:
        r = np.nextafter(r, np.float32(-np.inf))
    return r


def forest_from_xgboost(booster) -> Forest:
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    param = learner["learner_model_param"]
    n_classes = int(param["num_class"])
    n_features = int(param["num_feature"])
    objective = learner["objective"]["name"]
    if objective not in ("multi:softprob", "multi:softmax"):
        raise ValueError(f"unsupported XGBoost objective {objective}")
    base_text = param["base_score"].strip("[]")
    base = np.array([float(v) for v in base_text.split(",")], dtype=np.float32)
    if base.size == 1:
        base = np.repeat(base, n_classes)
    gb = learner["gradient_booster"]
    if gb["name"] != "gbtree":
        raise ValueError(f"unsupported XGBoost booster {gb['name']}")
    trees = []
    for t in gb["model"]["trees"]:
        if any(t["split_type"]) or t["categories"]:
            raise ValueError("categorical splits are not supported")
        left = np.array(t["left_children"], dtype=np.int64)
        right = np.array(t["right_children"], dtype=np.int64)
        leaf = left < 0
        cond = np.array(t["split_conditions"], dtype=np.float32)
        trees.append(
            Tree(
                feature=np.where(leaf, -1, np.array(t["split_indices"], dtype=np.int64)),
                threshold=np.where(leaf, np.float32(0), cond).astype(np.float32),
                true_child=left,
                false_child=right,
                value=np.where(leaf, cond.astype(np.float64), 0.0),
                default_true=np.array(t["default_left"], dtype=bool),
            )
        )
    tree_class = np.array(gb["model"]["tree_info"], dtype=np.int64)
    return Forest(trees, tree_class, n_classes, n_features, "BRANCH_LT", base,
                  {"source": "xgboost", "version": learner.get("attributes", {})})


def forest_from_lightgbm(booster) -> Forest:
    dump = booster.dump_model()
    n_classes = int(dump["num_class"])
    per_iter = int(dump["num_tree_per_iteration"])
    if n_classes < 3 or per_iter != n_classes or not dump["objective"].startswith("multiclass"):
        raise ValueError(f"expected a multiclass LightGBM model, got {dump['objective']}")
    if dump.get("average_output"):
        raise ValueError("random-forest LightGBM (average_output) is not supported")
    trees = []
    for info in dump["tree_info"]:
        feature, threshold, tchild, fchild, value, dflt = [], [], [], [], [], []

        def visit(node) -> int:
            i = len(feature)
            feature.append(-1)
            threshold.append(np.float32(0))
            tchild.append(-1)
            fchild.append(-1)
            value.append(0.0)
            dflt.append(False)
            if "leaf_value" in node:
                value[i] = float(node["leaf_value"])
                return i
            if node["decision_type"] != "<=":
                raise ValueError(f"unsupported LightGBM split {node['decision_type']}")
            feature[i] = int(node["split_feature"])
            threshold[i] = _f32_floor(float(node["threshold"]))
            dflt[i] = bool(node["default_left"])
            tchild[i] = visit(node["left_child"])
            fchild[i] = visit(node["right_child"])
            return i

        visit(info["tree_structure"])
        trees.append(
            Tree(np.array(feature, dtype=np.int64), np.array(threshold, dtype=np.float32),
                 np.array(tchild, dtype=np.int64), np.array(fchild, dtype=np.int64),
                 np.array(value, dtype=np.float64), np.array(dflt, dtype=bool))
        )
    tree_class = np.arange(len(trees), dtype=np.int64) % per_iter
    return Forest(trees, tree_class, n_classes, int(dump["max_feature_idx"]) + 1, "BRANCH_LEQ",
                  np.zeros(n_classes, dtype=np.float32), {"source": "lightgbm"})


def _input(forest: Forest, batch: str | int):
    return helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, forest.n_features])


def _model(graph, domains: dict[str, int], doc: str) -> onnx.ModelProto:
    opsets = [helper.make_opsetid(d, v) for d, v in domains.items()]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="tft_models.trees_to_onnx")
    model.ir_version = 8
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model


def _outputs(batch):
    return [
        helper.make_tensor_value_info("label", TensorProto.INT64, [batch]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, None]),
    ]


def to_tree_ensemble(forest: Forest, batch: str | int = "N") -> onnx.ModelProto:
    """One TreeEnsembleClassifier node: outputs `label` [N] int64, `probabilities` [N, K]."""
    a: dict[str, list] = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "class_treeids", "class_nodeids", "class_ids", "class_weights")}
    for t, (tree, cls) in enumerate(zip(forest.trees, forest.tree_class)):
        for i in range(len(tree.feature)):
            leaf = bool(tree.is_leaf[i])
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(0 if leaf else int(tree.feature[i]))
            a["nodes_values"].append(0.0 if leaf else float(tree.threshold[i]))
            a["nodes_modes"].append("LEAF" if leaf else forest.mode)
            a["nodes_truenodeids"].append(0 if leaf else int(tree.true_child[i]))
            a["nodes_falsenodeids"].append(0 if leaf else int(tree.false_child[i]))
            a["nodes_missing_value_tracks_true"].append(int(not leaf and tree.default_true[i]))
            if leaf:
                a["class_treeids"].append(t)
                a["class_nodeids"].append(i)
                a["class_ids"].append(int(cls))
                a["class_weights"].append(float(np.float32(tree.value[i])))
    node = helper.make_node(
        "TreeEnsembleClassifier", ["input"], ["label", "probabilities"], domain="ai.onnx.ml",
        classlabels_int64s=list(range(forest.n_classes)),
        base_values=[float(v) for v in forest.base], post_transform="SOFTMAX", **a,
    )
    graph = helper.make_graph([node], "trees", [_input(forest, batch)], _outputs(batch))
    return _model(graph, {"": ONNX_OPSET, "ai.onnx.ml": ML_OPSET},
                  f"{forest.meta.get('source')} trees as ai.onnx.ml TreeEnsembleClassifier")


def _scores_to_outputs(nodes, inits, forest: Forest, scores: str, n_trees: int):
    """scores: [N, n_trees] float (leaf value of each tree) -> label, probabilities."""
    k = forest.n_classes
    rounds = n_trees // k
    # Trees are iteration-major (tree t votes for class t % k): [N, rounds, k] summed over rounds.
    inits += [numpy_helper.from_array(np.array([0, rounds, k], dtype=np.int64), "shape_nrk"),
              numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
              numpy_helper.from_array(forest.base.reshape(1, k).astype(np.float32), "base")]
    nodes += [
        helper.make_node("Reshape", [scores, "shape_nrk"], ["scores_nrk"]),
        helper.make_node("ReduceSum", ["scores_nrk", "axis1"], ["margin0"], keepdims=0),
        helper.make_node("Add", ["margin0", "base"], ["margin"]),
        helper.make_node("Softmax", ["margin"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]


def _check_class_order(forest: Forest):
    k = forest.n_classes
    if len(forest.trees) % k or not np.array_equal(forest.tree_class, np.arange(len(forest.trees)) % k):
        raise ValueError("tensor exports need iteration-major trees (tree t votes for class t % k)")


def to_gemm(forest: Forest, batch: str | int = "N") -> onnx.ModelProto:
    """Hummingbird's GEMM strategy, per tree padded to I internal nodes and L leaves.

    Feature selection uses Gather (exact, cheaper than hummingbird's one-hot MatMul):
      S = Gather(X, feat)            [N, T*I]
      P = Cast(S < thr)              [N, T*I] -> [T, N, I]
      Q = P @ C                      C[t, i, l] = +1 / -1 if leaf l is under i's true / false side
      H = Cast(Q == D)               D[t, l] = number of true-side edges on the way to l
      V = H @ E                      E[t, l] = leaf value  -> [T, N]
    """
    _check_class_order(forest)
    trees = forest.trees
    n_t = len(trees)
    n_i = max(1, max(int((~t.is_leaf).sum()) for t in trees))
    n_l = max(int(t.is_leaf.sum()) for t in trees)
    feat = np.zeros((n_t, n_i), dtype=np.int64)
    thr = np.zeros((n_t, n_i), dtype=np.float32)
    c = np.zeros((n_t, n_i, n_l), dtype=np.float32)
    d = np.full((n_t, n_l), -1.0, dtype=np.float32)  # padding leaves: Q = 0 != -1, never hit
    e = np.zeros((n_t, n_l, 1), dtype=np.float32)
    for ti, tree in enumerate(trees):
        internal = np.flatnonzero(~tree.is_leaf)
        leaves = np.flatnonzero(tree.is_leaf)
        i_pos = {n: j for j, n in enumerate(internal)}
        l_pos = {n: j for j, n in enumerate(leaves)}
        feat[ti, : len(internal)] = tree.feature[internal]
        thr[ti, : len(internal)] = tree.threshold[internal]
        # padded internal slots compare x[0] < 0 (any result): their C rows are 0.

        def walk(n, path):
            if tree.is_leaf[n]:
                lp = l_pos[n]
                for (ip, side) in path:
                    c[ti, ip, lp] = 1.0 if side else -1.0
                d[ti, lp] = sum(1 for _, side in path if side)
                e[ti, lp, 0] = np.float32(tree.value[n])
                return
            walk(tree.true_child[n], path + [(i_pos[n], True)])
            walk(tree.false_child[n], path + [(i_pos[n], False)])

        walk(0, [])
        if len(internal) == 0:  # a single-leaf tree: Q is 0, D must be 0
            d[ti, 0] = 0.0
    # Padded leaves: C column 0, D = -1, Q = 0 != -1: never selected.
    cmp = "Less" if forest.mode == "BRANCH_LT" else "LessOrEqual"
    inits = [
        numpy_helper.from_array(feat.reshape(-1), "feat"),
        numpy_helper.from_array(thr.reshape(-1), "thr"),
        numpy_helper.from_array(np.array([0, n_t, n_i], dtype=np.int64), "shape_nti"),
        numpy_helper.from_array(c, "C"),
        numpy_helper.from_array(d.reshape(n_t, 1, n_l), "D"),
        numpy_helper.from_array(e, "E"),
        numpy_helper.from_array(np.array([-1, n_t], dtype=np.int64), "shape_nt"),
    ]
    nodes = [
        helper.make_node("Gather", ["input", "feat"], ["sel"], axis=1),
        helper.make_node(cmp, ["sel", "thr"], ["cond"]),
        helper.make_node("Cast", ["cond"], ["condf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["condf", "shape_nti"], ["p_nti"]),
        helper.make_node("Transpose", ["p_nti"], ["p_tni"], perm=[1, 0, 2]),
        helper.make_node("MatMul", ["p_tni", "C"], ["q"]),
        helper.make_node("Equal", ["q", "D"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["hitf"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["hitf", "E"], ["v_tn1"]),  # [T, N, 1]
        helper.make_node("Transpose", ["v_tn1"], ["v_1nt"], perm=[2, 1, 0]),
        helper.make_node("Reshape", ["v_1nt", "shape_nt"], ["scores"]),  # [N, T]
    ]
    _scores_to_outputs(nodes, inits, forest, "scores", n_t)
    graph = helper.make_graph(nodes, "trees_gemm", [_input(forest, batch)], _outputs(batch), inits)
    return _model(graph, {"": ONNX_OPSET}, f"{forest.meta.get('source')} trees, GEMM strategy")


def to_tree_trav(forest: Forest, batch: str | int = "N") -> onnx.ModelProto:
    """Hummingbird's tree_trav: all nodes in flat arrays, one Gather round per level.

    idx [N, T] starts at each tree's root; per level:
      f = Gather(feature, idx); x = GatherElements(X, f); t = Gather(thr, idx)
      idx = Where(x < t, Gather(true_child, idx), Gather(false_child, idx))
    Leaves point to themselves, so the loop is unrolled to the maximum depth.
    """
    _check_class_order(forest)
    trees = forest.trees
    offsets = np.cumsum([0] + [len(t.feature) for t in trees])
    feat, thr, tc, fc, val = [], [], [], [], []
    for ti, tree in enumerate(trees):
        off = offsets[ti]
        own = np.arange(len(tree.feature)) + off
        leaf = tree.is_leaf
        feat.append(np.where(leaf, 0, tree.feature))
        thr.append(np.where(leaf, np.float32(0), tree.threshold).astype(np.float32))
        tc.append(np.where(leaf, own, tree.true_child + off))
        fc.append(np.where(leaf, own, tree.false_child + off))
        val.append(np.where(leaf, tree.value, 0.0).astype(np.float32))
    depth = max(t.depth() for t in trees)
    n_t = len(trees)
    cmp = "Less" if forest.mode == "BRANCH_LT" else "LessOrEqual"
    inits = [
        numpy_helper.from_array(np.concatenate(feat).astype(np.int64), "feature"),
        numpy_helper.from_array(np.concatenate(thr), "threshold"),
        numpy_helper.from_array(np.concatenate(tc).astype(np.int64), "true_child"),
        numpy_helper.from_array(np.concatenate(fc).astype(np.int64), "false_child"),
        numpy_helper.from_array(np.concatenate(val), "value"),
        numpy_helper.from_array(offsets[:-1].astype(np.int64).reshape(1, n_t), "roots"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero_i"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one_i"),
        numpy_helper.from_array(np.array([n_t], dtype=np.int64), "n_trees"),
    ]
    nodes = [
        # idx0 = roots broadcast to [N, T]
        helper.make_node("Shape", ["input"], ["in_shape"]),
        helper.make_node("Slice", ["in_shape", "zero_i", "one_i"], ["n_rows"]),
        helper.make_node("Concat", ["n_rows", "n_trees"], ["nt_shape"], axis=0),
        helper.make_node("Expand", ["roots", "nt_shape"], ["idx0"]),
    ]
    idx = "idx0"
    for level in range(depth):
        p = f"l{level}_"
        nodes += [
            helper.make_node("Gather", ["feature", idx], [p + "f"], axis=0),
            helper.make_node("GatherElements", ["input", p + "f"], [p + "x"], axis=1),
            helper.make_node("Gather", ["threshold", idx], [p + "t"], axis=0),
            helper.make_node(cmp, [p + "x", p + "t"], [p + "c"]),
            helper.make_node("Gather", ["true_child", idx], [p + "tc"], axis=0),
            helper.make_node("Gather", ["false_child", idx], [p + "fc"], axis=0),
            helper.make_node("Where", [p + "c", p + "tc", p + "fc"], [p + "idx"]),
        ]
        idx = p + "idx"
    nodes.append(helper.make_node("Gather", ["value", idx], ["scores"], axis=0))
    _scores_to_outputs(nodes, inits, forest, "scores", n_t)
    graph = helper.make_graph(nodes, "trees_trav", [_input(forest, batch)], _outputs(batch), inits)
    return _model(graph, {"": ONNX_OPSET}, f"{forest.meta.get('source')} trees, tree_trav strategy")


EXPORTS = {"tree_ensemble": to_tree_ensemble, "gemm": to_gemm, "tree_trav": to_tree_trav}
