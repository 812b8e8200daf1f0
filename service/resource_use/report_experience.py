"""The report's section on what patients say: the experience form's answers per stage
of follow-up (``service.experience``), one table per question, with the counts the
small-number rule hides shown as "<5"."""

from __future__ import annotations

from html import escape

from service.experience.schemas import ExperienceRead, QuestionDistribution
from service.resource_use.export import SMALL
from service.resource_use.report_html import table
from service.resource_use.report_text import Lang, label

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Hva pasientene sier", "What patients say"),
    "explain": (
        "Svar på erfaringsskjemaet (trygghet hjemme, mestring, brukervennlighet, vil "
        "anbefale; 1 til 5) gitt i perioden, per trinn i oppfølgingen: ved innskrivning og "
        "hver tredje måned etter. Hver pasients siste svar i et trinn teller én gang.",
        "Answers to the experience form (security at home, coping, ease of use, would "
        "recommend; 1 to 5) given in the period, per stage of follow-up: at enrolment and "
        "every three months after. Each patient's latest answer in a stage counts once.",
    ),
    "rule": (
        "Et trinn med 1 til 4 som svarte viser ingen tall; et antall på 1 til 4 vises som "
        "«<5», og der bare ett antall i et trinn er skjult, skjules også det minste ved "
        "siden av, så ingen skjult verdi kan regnes ut ved subtraksjon.",
        "A stage with 1 to 4 respondents shows no counts; a count of 1 to 4 is shown as "
        "'<5', and where only one count of a stage is hidden, the smallest beside it is "
        "hidden too, so that no hidden value can be found by subtraction.",
    ),
    "none": ("Ingen svar i perioden.", "No answers in the period."),
    "stage": ("Trinn", "Stage"),
    "respondents": ("Svarte", "Respondents"),
    "enrolment": ("Ved innskrivning", "At enrolment"),
    "months": ("Etter {n} måneder", "After {n} months"),
}


def section(experience: ExperienceRead | None, lang: Lang) -> str:
    parts = [
        f"<h2>{escape(label(WORDS, 'title', lang))}</h2>",
        f'<p class="note">{escape(label(WORDS, "explain", lang))} '
        f"{escape(label(WORDS, 'rule', lang))}</p>",
    ]
    questions = [] if experience is None else experience.questions
    if not any(q.stages for q in questions):
        parts.append(f"<p>{escape(label(WORDS, 'none', lang))}</p>")
        return "\n".join(parts)
    parts += [_question(q, lang) for q in questions]
    return "\n".join(parts)


def stage_name(months: int, lang: Lang) -> str:
    if months == 0:
        return label(WORDS, "enrolment", lang)
    return label(WORDS, "months", lang).format(n=months)


def _question(question: QuestionDistribution, lang: Lang) -> str:
    text = question.text_nb if lang == "nb" else question.text_en
    values = [str(v) for v in range(question.low, question.high + 1)]
    head = [label(WORDS, "stage", lang), label(WORDS, "respondents", lang), *values]
    rows = [
        [
            stage_name(s.months_after_enrolment, lang),
            SMALL if s.respondents is None else str(s.respondents),
            *(_count(s.counts.get(v)) for v in values),
        ]
        for s in question.stages
    ]
    return f"<h3>{escape(text)}</h3>{table(head, rows)}"


def _count(value: int | None) -> str:
    return SMALL if value is None else str(value)
