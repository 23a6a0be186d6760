"""`requests classify` and `requests train` through Typer, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from zhixiang.classify import load_model
from zhixiang.cli.classify import classify, train
from zhixiang.config import load_settings

LABELLED = load_settings().shared_data_dir / "taidi2020" / "messages_labeled.csv"

app = typer.Typer()
app.command("classify")(classify)
app.command("train")(train)
runner = CliRunner()


@pytest.fixture(scope="module")
def messages() -> pd.DataFrame:
    if not LABELLED.is_file():
        pytest.skip(f"real data absent: {LABELLED} (set ZHIXIANG_SHARED_DATA)")
    return pd.read_csv(LABELLED, dtype=str, keep_default_na=False)


def test_classify_adds_predicted_category_and_confidence(
    messages: pd.DataFrame, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.csv", tmp_path / "out" / "labelled.csv"
    messages.head(30).drop(columns=["一级分类"]).to_csv(source, index=False)

    result = runner.invoke(app, ["classify", "--input", str(source), "--output", str(output)])

    assert result.exit_code == 0, result.output
    scored = pd.read_csv(output, dtype={"留言编号": str}, encoding="utf-8-sig")
    assert list(scored.columns[-2:]) == ["预测分类", "置信度"]
    assert len(scored) == 30
    assert scored["留言详情"].tolist() == messages.head(30)["留言详情"].tolist()
    assert set(scored["预测分类"]) <= set(load_model().labels)
    assert scored["置信度"].between(0.0, 1.0).all()
    agreement = (scored["预测分类"] == messages.head(30)["一级分类"]).mean()
    assert agreement > 0.8  # these rows were in the shipped model's training data


def test_classify_rejects_a_csv_without_the_body_column_naming_file_and_column(
    messages: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "no_body.csv"
    messages.head(3).drop(columns=["留言详情"]).to_csv(source, index=False)

    result = runner.invoke(
        app, ["classify", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    )

    assert result.exit_code == 2
    assert "no_body.csv" in result.output and "留言详情" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not a crash
    assert not (tmp_path / "o.csv").exists()


def test_classify_names_the_record_whose_title_and_body_are_both_empty(
    messages: pd.DataFrame, tmp_path: Path
) -> None:
    rows = messages.head(4).copy()
    rows.loc[2, ["留言主题", "留言详情"]] = ["", "  \n\t "]
    source = tmp_path / "blank.csv"
    rows.to_csv(source, index=False)

    result = runner.invoke(
        app, ["classify", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    )

    assert result.exit_code == 2
    assert "blank.csv" in result.output and "第 3 条记录" in result.output


@pytest.mark.parametrize("problem", ["missing input", "not a model", "empty file"])
def test_classify_reports_unusable_files_without_a_traceback(
    messages: pd.DataFrame, tmp_path: Path, problem: str
) -> None:
    source, model = tmp_path / "in.csv", None
    messages.head(2).to_csv(source, index=False)
    if problem == "missing input":
        source = tmp_path / "nowhere.csv"
    elif problem == "not a model":
        model = tmp_path / "model.joblib"
        model.write_bytes(b"\x00garbage")
    else:
        source.write_text("")
    args = ["classify", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    result = runner.invoke(app, args + (["--model", str(model)] if model else []))

    assert result.exit_code == 2
    assert "错误" in result.output and "Traceback" not in result.output
    assert (model or source).name in result.output


def test_train_prints_cross_validated_figures_and_saves_a_versioned_model(
    messages: pd.DataFrame, tmp_path: Path
) -> None:
    subset = messages.groupby("一级分类", group_keys=False).head(20)  # 140 rows keep this fast
    data, output = tmp_path / "labelled.csv", tmp_path / "model.joblib"
    subset.to_csv(data, index=False)

    result = runner.invoke(
        app, ["train", "--data", str(data), "--output", str(output), "--folds", "3"]
    )

    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "±" in result.output
    assert all(label in result.output for label in set(subset["一级分类"]))
    model = load_model(output)
    assert model.version in result.output
    metadata = json.loads(output.with_suffix(".json").read_text("utf-8"))
    assert metadata["evaluation"]["rounds"] == 3
    assert metadata["training_data"]["messages"] == 140


def test_train_refuses_more_folds_than_the_smallest_class_has_rows(
    messages: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "small.csv"
    messages.groupby("一级分类", group_keys=False).head(3).to_csv(data, index=False)

    result = runner.invoke(app, ["train", "--data", str(data), "--folds", "5"])

    assert result.exit_code == 2
    assert "small.csv" in result.output and "--folds" in result.output
