"""Honest numbers in the report (issue 17, items 13 and 14)."""

from __future__ import annotations

import html as html_mod
import json
import re
from pathlib import Path
from typing import Any

from backup_versionamento import GerenciadorBackupVersionamento
from tests.conftest import aleatorio, escrever
from tests.test_relatorios import RAPIDO, validar_esquema


def _linha_metrica(pagina: str, nome: str) -> str:
    """The text of the metrics table row of `nome`."""
    (linha,) = re.findall(rf"<tr><td[^>]*>{nome}</td>.*?</tr>", pagina, re.S)
    return html_mod.unescape(re.sub(r"<[^>]+>", " ", linha))


def _serie(relatorio: dict[str, Any], nome: str) -> dict[str, Any]:
    (m,) = relatorio["modelos"]
    (s,) = [s for s in m["metricas"] if s["nome"] == nome]
    return s


def test_supera_o_acaso_mostra_o_teste_o_p_valor_e_o_n(tmp_path: Path) -> None:
    """0.6000000000000001 vs 0.6 is not "sim"; the doc's example is, with its p."""
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:
        m = tmp_path / "m.pkl"
        escrever(m, aleatorio(1000, 1))
        g.criar_backup(m, metricas={"taxa_acerto_media": 0.6000000000000001})
        escrever(m, aleatorio(1000, 2))
        # docs/METRICAS.md, "Exemplo resolvido": 13 hits beat chance, 12 do not.
        g.criar_backup(
            m,
            metricas={
                "acertos_14": 0.0,
                "acertos_13": 0.008,
                "acertos_12": 0.028,
                "acertos_11": 0.104,
                "n_sorteios": 500,
            },
        )
        escrever(m, aleatorio(1000, 3))
        arquivos = g.gerar_relatorio(tmp_path / "s", formatos=["json", "html"])
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    pagina = Path(arquivos["html"]).read_text(encoding="utf-8")

    media = _serie(r, "taxa_acerto_media")["teste"]
    assert media["supera_acaso"] is False and media["versao"] == "1.0.0"
    assert media["decisao"].startswith("não há sorteios suficientes")
    linha = _linha_metrica(pagina, "taxa_acerto_media")
    assert " sim " not in f" {linha} "
    assert "N não informado" in linha and "não há sorteios suficientes" in linha

    treze = _serie(r, "acertos_13")["teste"]
    assert treze["supera_acaso"] is True and treze["n_sorteios"] == 500
    assert abs(treze["p_ajustado"] - 0.0255) < 5e-4
    linha = _linha_metrica(pagina, "acertos_13")
    assert "sim" in linha and "N = 500 sorteios" in linha
    assert "p ajustado (Holm) = 0.02" in linha and "binomial exato" in linha

    doze = _serie(r, "acertos_12")["teste"]
    assert doze["supera_acaso"] is False and doze["decisao"] == "não supera o acaso"
    assert "não supera o acaso" in _linha_metrica(pagina, "acertos_12")
