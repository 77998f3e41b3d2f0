"""Real sentences in many languages, correctly encoded, and the mojibake real pipelines make of them.

The encoding check must pass every sentence of ``REAL_TEXT`` (a Portuguese or German team's rows are
not garbage) and catch every text of ``mojibake()``: UTF-8 decoded as latin-1 or cp1252, and text
encoded twice. Used by ``tests/data/test_encoding_languages.py`` and ``bench/mojibake_bench.py``.
"""

from __future__ import annotations

# Each language: ordinary sentences (news, reviews, support tickets, the Universal Declaration of
# Human Rights' first article), with the typography the language really uses (French spaces
# before « » and ;, German „quotes“, Spanish ¿ ¡, all-caps headlines).
REAL_TEXT: dict[str, list[str]] = {
    "German": [
        "Größe",
        "Straße, Übergröße, Äußerung",
        "Größe und Gewicht der Pakete müssen angegeben werden.",
        "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
        "Die Bestellung kam pünktlich, aber die Verpackung war beschädigt.",
        "„Das Ergebnis ist überraschend“, sagte die Ärztin in München.",
        "ÜBERSCHWEMMUNG IN ÖSTERREICH: STRAẞEN GESPERRT",
        "Übermäßig süß, äußerst ärgerlich – nie wieder!",
    ],
    "Portuguese": [
        "ações e informações",
        "Todos os seres humanos nascem livres e iguais em dignidade e em direitos.",
        "A atualização não funcionou e a aplicação fechou sozinha.",
        "Não há previsão de chegada; a encomenda está em trânsito há três semanas.",
        "AÇÕES DA PETROBRAS SOBEM APÓS DECISÃO DO GOVERNO",
        "Atenção: promoção válida até sábado, às 18h.",
    ],
    "French": [
        "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
        "« Ça ne marche plus depuis la mise à jour », écrit un client déçu.",
        "L’été dernier, la météo était épouvantable : pluie, grêle et vent.",
        "Où est passée ma commande ? Ça fait déjà dix jours.",
        "Le cœur de l’œuvre est une élégie à la sœur disparue.",
        "PRÉVISIONS : HAUSSE DES PRIX DE L’ÉNERGIE À L’HIVER",
    ],
    "Spanish": [
        "Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
        "¿Por qué no llegó el pedido? ¡Llevo esperando dos semanas!",
        "El niño comió piña en el año nuevo con su señora madre.",
        "La aplicación se cierra al abrir la cámara; ¿alguna solución?",
        "ESPAÑA GANA LA FINAL: ¡CAMPEONES DE EUROPA!",
    ],
    "Polish": [
        "Wszyscy ludzie rodzą się wolni i równi pod względem swej godności i swych praw.",
        "Zażółć gęślą jaźń.",
        "Przesyłka dotarła uszkodzona, proszę o zwrot pieniędzy.",
        "Żółw źle się czuł w łóżku, więc poszedł do lekarza.",
        "ŁÓDŹ: ŚLEDZTWO W SPRAWIE POŻARU MIESZKANIA",
    ],
    "Turkish": [
        "Bütün insanlar hür, haysiyet ve haklar bakımından eşit doğarlar.",
        "Iğdır'da çığ düştü, yollar kapandı.",
        "Sipariş ettiğim ürün hâlâ gelmedi, çok üzgünüm.",
        "Şişli'deki mağazada güzel bir çanta aldım.",
        "İSTANBUL'DA ŞİDDETLİ YAĞIŞ UYARISI",
    ],
    "Czech": [
        "Všichni lidé rodí se svobodní a sobě rovní co do důstojnosti a práv.",
        "Příliš žluťoučký kůň úpěl ďábelské ódy.",
        "Zásilka dorazila včas, ale chyběl návod k použití.",
        "Řidič ujížděl po dálnici rychlostí 180 km/h.",
        "ČESKÁ NÁRODNÍ BANKA ZVÝŠILA ÚROKOVÉ SAZBY",
    ],
    "Vietnamese": [
        "Tất cả mọi người sinh ra đều được tự do và bình đẳng về nhân phẩm và quyền.",
        "Tiếng Việt có sáu thanh điệu.",
        "Đơn hàng của tôi bị giao chậm ba ngày, rất thất vọng.",
        "Ứng dụng này dễ sử dụng và rất hữu ích cho người già.",
        "HÀ NỘI: MƯA LỚN GÂY NGẬP ÚNG NHIỀU TUYẾN PHỐ",
    ],
    "Greek": [
        "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα.",
        "Η παραγγελία έφτασε γρήγορα και σε άριστη κατάσταση.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
        "ΑΘΗΝΑ: ΑΠΕΡΓΙΑ ΣΤΑ ΜΕΣΑ ΜΑΖΙΚΗΣ ΜΕΤΑΦΟΡΑΣ",
    ],
    "Russian": [
        "Все люди рождаются свободными и равными в своем достоинстве и правах.",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Приложение вылетает при запуске, помогите!",
        "МОСКВА: ВВЕДЕНЫ НОВЫЕ ОГРАНИЧЕНИЯ ДВИЖЕНИЯ",
    ],
    "Arabic": [
        "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق.",
        "وصل الطلب متأخرًا والمنتج لا يعمل.",
        "الخدمة ممتازة وسأطلب مرة أخرى.",
    ],
    "Japanese": [
        "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。",
        "注文した商品がまだ届きません。",
        "このアプリはとても使いやすいです！",
        "東京都で記録的な大雨、交通機関に乱れ",
    ],
    "Hungarian": [
        "Árvíztűrő tükörfúrógép.",
        "Minden emberi lény szabadon születik és egyenlő méltósága és joga van.",
    ],
    "Danish and Norwegian": [
        "Alle mennesker er født frie og lige i værdighed og rettigheder.",
        "Blåbærsyltetøy på brødskiva er godt, søster.",
        "ÆRØ FÆRGEN ER FORSINKET I DAG",
    ],
    "Icelandic": ["Kæmi ný öxi hér, ykist þjófum nú bæði víl og ádrepa."],
    "Romanian": ["Toate ființele umane se nasc libere și egale în demnitate și în drepturi."],
    "Chinese": ["人人生而自由，在尊严和权利上一律平等。", "快递三天就到了，很满意。"],
    "Korean": ["모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다."],
    "Hebrew": ["כל בני האדם נולדו בני חורין ושווים בערכם ובזכויותיהם."],
    "Hindi": ["सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता प्राप्त है।"],
    "English with symbols": [
        "The room was 21 °C, the fee €25 and the size 3½ × 4¼ inches — fine by me.",
        "Café crème, naïve résumé, jalapeño: the menu’s “classics”.",
        "Copyright © 2024 Acme™; all rights reserved ® ±5%.",
    ],
}


def real_sentences() -> list[tuple[str, str]]:
    """(language, sentence) for every sentence of the corpus."""
    return [(language, text) for language, texts in REAL_TEXT.items() for text in texts]


def _misdecode(text: str, codec: str) -> str | None:
    """The text's UTF-8 bytes read as ``codec`` (None where that codec has no character for a byte)."""
    try:
        return text.encode("utf-8").decode(codec)
    except UnicodeDecodeError:
        return None


def mojibake() -> list[tuple[str, str, str]]:
    """(language, how, garbled text): each non-ASCII sentence as three real pipelines garble it.

    UTF-8 read as latin-1 (C1 controls appear), as cp1252 (the 'Ã©' and 'â€™' of web pages), and
    cp1252 mojibake written as UTF-8 and read as cp1252 again (double-encoded). cp1252 has no
    character for five bytes; a sentence whose bytes hit one is left out of that variant.
    """
    cases = []
    for language, text in real_sentences():
        if text.isascii():
            continue
        variants = {"utf-8 read as latin-1": _misdecode(text, "latin-1"),
                    "utf-8 read as cp1252": _misdecode(text, "cp1252")}
        once = variants["utf-8 read as cp1252"]
        variants["double-encoded (cp1252 twice)"] = _misdecode(once, "cp1252") if once else None
        cases += [(language, how, garbled) for how, garbled in variants.items() if garbled]
    return cases
