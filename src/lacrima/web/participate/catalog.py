"""Participant-facing interface text in every supported language.

Instrument text comes from the instrument YAML files; this catalogue holds only the words around it
(buttons, progress, errors). A missing key or language falls back to English, and a test checks that every
language has every key.
"""

from __future__ import annotations

from typing import Any

SUPPORTED = ("en", "it", "he")
RTL = frozenset({"he"})

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "choose_language": "Choose your language",
        "continue": "Continue",
        "back": "Back",
        "save_continue": "Save and continue",
        "finish": "Finish",
        "consent_title": "Consent to take part",
        "consent_agree": "I agree to take part",
        "consent_decline": "I do not want to take part",
        "declined_title": "Thank you",
        "declined_body": "You chose not to take part. Nothing you entered has been kept. You can close this page.",
        "page_of": "Page {page} of {pages}",
        "progress_label": "Progress",
        "required": "Please answer this question.",
        "invalid_choice": "Please choose one of the answers shown.",
        "invalid_number": "Please enter a number between {min} and {max}.",
        "unknown_field": "The form contained answers to questions that are not part of this survey; "
        "please reload the page and try again.",
        "errors_intro": "Some answers need your attention:",
        "done_title": "Thank you",
        "done_body": "Your answers have been saved. You can close this page.",
        "resume_note": "Your earlier answers were saved; you can continue where you left off.",
        "expired": "This link has expired. Please ask the research team for a new one.",
        "used": "This link has already been used to complete the survey. Thank you for taking part.",
        "revoked": "This link is no longer active. Please ask the research team for help.",
        "withdrawn": "You have withdrawn from this study. Thank you for your time.",
        "not_found": "This link is not valid. Please check that you copied the whole link.",
        "link_problem_title": "This link cannot be used",
        "checkin_title": "After today's session",
        "session_number": "Session number",
        "checkin_saved": "Thank you, your check-in for session {session} has been saved.",
        "checkin_duplicate": "A check-in for session {session} was already saved; it has not been saved twice.",
        "withdraw_link": "Withdraw from the study",
        "withdraw_title": "Withdraw from the study",
        "withdraw_body": "If you withdraw, you will receive no further questionnaires. Answers already given "
        "are kept unless you ask the research team to delete them.",
        "withdraw_confirm": "Yes, withdraw me",
        "stale_form": "This page was submitted twice or out of order; your saved answers are shown below.",
        "not_shown": "Skip",
    },
    "it": {
        "choose_language": "Scegli la lingua",
        "continue": "Continua",
        "back": "Indietro",
        "save_continue": "Salva e continua",
        "finish": "Termina",
        "consent_title": "Consenso alla partecipazione",
        "consent_agree": "Acconsento a partecipare",
        "consent_decline": "Non desidero partecipare",
        "declined_title": "Grazie",
        "declined_body": "Hai scelto di non partecipare. Nulla di ciò che hai inserito è stato conservato. "
        "Puoi chiudere questa pagina.",
        "page_of": "Pagina {page} di {pages}",
        "progress_label": "Avanzamento",
        "required": "Per favore rispondi a questa domanda.",
        "invalid_choice": "Per favore scegli una delle risposte indicate.",
        "invalid_number": "Per favore inserisci un numero tra {min} e {max}.",
        "unknown_field": "Il modulo conteneva risposte a domande che non fanno parte di questo questionario; "
        "ricarica la pagina e riprova.",
        "errors_intro": "Alcune risposte richiedono la tua attenzione:",
        "done_title": "Grazie",
        "done_body": "Le tue risposte sono state salvate. Puoi chiudere questa pagina.",
        "resume_note": "Le risposte precedenti sono state salvate; puoi continuare da dove avevi lasciato.",
        "expired": "Questo link è scaduto. Chiedi un nuovo link al gruppo di ricerca.",
        "used": "Questo link è già stato usato per completare il questionario. Grazie per la partecipazione.",
        "revoked": "Questo link non è più attivo. Chiedi aiuto al gruppo di ricerca.",
        "withdrawn": "Ti sei ritirato/a dallo studio. Grazie per il tuo tempo.",
        "not_found": "Questo link non è valido. Controlla di aver copiato il link completo.",
        "link_problem_title": "Questo link non può essere usato",
        "checkin_title": "Dopo la seduta di oggi",
        "session_number": "Numero della seduta",
        "checkin_saved": "Grazie, il check-in per la seduta {session} è stato salvato.",
        "checkin_duplicate": "Un check-in per la seduta {session} era già stato salvato; non è stato salvato "
        "due volte.",
        "withdraw_link": "Ritirati dallo studio",
        "withdraw_title": "Ritirarsi dallo studio",
        "withdraw_body": "Se ti ritiri non riceverai altri questionari. Le risposte già date vengono conservate "
        "a meno che tu non chieda al gruppo di ricerca di cancellarle.",
        "withdraw_confirm": "Sì, voglio ritirarmi",
        "stale_form": "Questa pagina è stata inviata due volte o fuori ordine; sotto trovi le risposte salvate.",
        "not_shown": "Salta",
    },
    "he": {
        "choose_language": "בחרו שפה",
        "continue": "המשך",
        "back": "חזרה",
        "save_continue": "שמירה והמשך",
        "finish": "סיום",
        "consent_title": "הסכמה להשתתפות",
        "consent_agree": "אני מסכים/ה להשתתף",
        "consent_decline": "אינני רוצה להשתתף",
        "declined_title": "תודה",
        "declined_body": "בחרת לא להשתתף. דבר ממה שהזנת לא נשמר. אפשר לסגור את הדף.",
        "page_of": "עמוד {page} מתוך {pages}",
        "progress_label": "התקדמות",
        "required": "נא לענות על שאלה זו.",
        "invalid_choice": "נא לבחור אחת מהתשובות המוצגות.",
        "invalid_number": "נא להזין מספר בין {min} ל-{max}.",
        "unknown_field": "הטופס הכיל תשובות לשאלות שאינן חלק מהשאלון; נא לטעון את הדף מחדש ולנסות שוב.",
        "errors_intro": "יש תשובות שדורשות את תשומת לבך:",
        "done_title": "תודה",
        "done_body": "התשובות שלך נשמרו. אפשר לסגור את הדף.",
        "resume_note": "התשובות הקודמות שלך נשמרו; אפשר להמשיך מהמקום שבו הפסקת.",
        "expired": "תוקף הקישור פג. נא לבקש קישור חדש מצוות המחקר.",
        "used": "הקישור כבר שימש למילוי השאלון. תודה על ההשתתפות.",
        "revoked": "הקישור אינו פעיל עוד. נא לפנות לצוות המחקר.",
        "withdrawn": "פרשת מהמחקר. תודה על הזמן שהקדשת.",
        "not_found": "הקישור אינו תקין. נא לבדוק שהעתקת את הקישור המלא.",
        "link_problem_title": "לא ניתן להשתמש בקישור",
        "checkin_title": "אחרי הפגישה היום",
        "session_number": "מספר הפגישה",
        "checkin_saved": "תודה, הדיווח על פגישה {session} נשמר.",
        "checkin_duplicate": "דיווח על פגישה {session} כבר נשמר; הוא לא נשמר פעמיים.",
        "withdraw_link": "פרישה מהמחקר",
        "withdraw_title": "פרישה מהמחקר",
        "withdraw_body": "אם תפרשו, לא תקבלו שאלונים נוספים. תשובות שכבר נמסרו יישמרו אלא אם תבקשו מצוות "
        "המחקר למחוק אותן.",
        "withdraw_confirm": "כן, אני רוצה לפרוש",
        "stale_form": "הדף נשלח פעמיים או שלא לפי הסדר; התשובות השמורות מוצגות למטה.",
        "not_shown": "דילוג",
    },
}


def text(language: str, key: str, **values: Any) -> str:
    table = STRINGS.get(language, STRINGS["en"])
    template = table.get(key) or STRINGS["en"][key]
    return template.format(**values) if values else template


def direction(language: str) -> str:
    return "rtl" if language.split("-")[0] in RTL else "ltr"


class Catalog:
    """Template-friendly accessor: ``{{ t.consent_title }}``."""

    def __init__(self, language: str) -> None:
        self.language = language if language in STRINGS else "en"

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return text(self.language, key)

    def __getitem__(self, key: str) -> str:
        return text(self.language, key)
