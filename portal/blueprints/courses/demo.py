# ruff: noqa: E501 - question texts read better unbroken
"""The demo course: 情報セキュリティ基礎 with lessons and a bank of questions written for this project.

:func:`seed_demo_course` is idempotent: it finds the course by title and fiscal year and adds nothing twice.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.blueprints.courses.services import parse_choice_lines, save_question, true_false_choices
from portal.extensions import db
from portal.models import Course, CourseKind, Lesson, QuestionKind

DEMO_COURSE_TITLE = "情報セキュリティ基礎"
DEMO_FISCAL_YEAR = 2026

LESSONS = [
    ("パスワードと認証", """## パスワードは長く、使い回さない

- 12文字以上の長いパスフレーズにする
- サービスごとに別のパスワードにする（パスワード管理ツールを使う）
- 可能なら**多要素認証**を有効にする

定期的な変更よりも、漏えいしたときにすぐ変えることが大切です。"""),
    ("メールと標的型攻撃", """## 怪しいメールの見分け方

1. 差出人のアドレスと表示名が一致しているか
2. 急がせる・脅す文面ではないか
3. リンク先のドメインは正しいか

迷ったら開かずに、**情報システム担当に相談**しましょう。"""),
    ("情報の持ち出しと端末管理", """## 社外での情報の扱い

- 業務データを私物の端末やクラウドに保存しない
- 離席時は画面をロックする（Windows: Win+L）
- 紛失・盗難はすぐに報告する"""),
]

# (kind, category, text, choices (one per line, * marks a right answer), explanation)
QUESTIONS = [
    (QuestionKind.SINGLE, "パスワード", "最も安全なパスワードの作り方はどれですか。",
     "*無関係な単語を組み合わせた長いパスフレーズを作り、サービスごとに変える\n誕生日と名前を組み合わせる\n"
     "1つの強いパスワードをすべてのサービスで使う\n8文字の英数字を毎月1文字ずつ変える",
     "長さが強さの決め手です。使い回すと1か所の漏えいで全サービスが危険になります。"),
    (QuestionKind.TRUE_FALSE, "パスワード", "多要素認証を有効にしていれば、パスワードを他人に教えても問題ない。", False,
     "多要素認証は被害を減らす仕組みで、パスワードを共有してよい理由にはなりません。"),
    (QuestionKind.SINGLE, "パスワード", "パスワード管理ツールについて正しい説明はどれですか。",
     "*サービスごとに異なる長いパスワードを安全に使い分けるのに役立つ\nマスターパスワードは短くて覚えやすいものがよい\n"
     "ブラウザーに保存したパスワードは誰にも見られない\n会社が許可していなくても自由に導入してよい",
     "マスターパスワードは特に長く強くし、会社の定めたツールを使いましょう。"),
    (QuestionKind.MULTIPLE, "認証", "多要素認証の「要素」に当たるものをすべて選んでください。",
     "*スマートフォンの認証アプリに表示されるコード（所持）\n*指紋や顔による認証（生体）\n*パスワード（知識）\n"
     "同じパスワードを2回入力すること",
     "知識・所持・生体のうち異なる2つ以上を組み合わせるのが多要素認証です。"),
    (QuestionKind.SINGLE, "メール", "取引先を名乗るメールで「振込先口座が変わりました」と連絡が来ました。まず取るべき行動はどれですか。",
     "*メールに書かれていない既知の電話番号で取引先に確認する\nメールに返信して本当か尋ねる\n"
     "急ぎのようなのですぐに新しい口座へ振り込む\nメール内の電話番号に電話して確認する",
     "ビジネスメール詐欺（BEC）の典型です。確認はメール以外の、前から知っている連絡先で行います。"),
    (QuestionKind.TRUE_FALSE, "メール", "表示名が社長の名前になっていれば、そのメールは社長本人から送られたものだと判断してよい。",
     False, "表示名は誰でも自由に設定できます。実際の送信元アドレスを確認しましょう。"),
    (QuestionKind.MULTIPLE, "メール", "標的型攻撃メールによく見られる特徴をすべて選んでください。",
     "*「至急」「本日中」など急がせる表現がある\n*添付ファイルを開くよう強く促す\n"
     "*差出人アドレスのドメインが正規のものと少し違う\n社内の定例会議の議事録が社内システムから届く",
     "急がせる、開かせる、似せたドメインを使う、は攻撃の定番の手口です。"),
    (QuestionKind.SINGLE, "メール", "心当たりのない添付ファイル付きメールを開いてしまいました。最初にすべきことはどれですか。",
     "*端末をネットワークから切り離し、すぐに情報システム担当へ報告する\n何も起きていないので様子を見る\n"
     "自分でウイルス対策ソフトを入れ直してから報告する\nメールを削除して忘れる",
     "早い報告が被害の拡大を防ぎます。証拠となるメールは削除せずに残しておきます。"),
    (QuestionKind.SINGLE, "Web", "Web サイトにログインするとき、URL の確認で最も重要なのはどれですか。",
     "*ドメイン名が正規のサービスのものか\nページのデザインが本物とそっくりか\n"
     "鍵マーク（https）が表示されているか\n検索結果の一番上に出てきたか",
     "フィッシングサイトも https を使います。鍵マークは通信の暗号化を示すだけで、相手の正しさは保証しません。"),
    (QuestionKind.TRUE_FALSE, "Web", "ソフトウェアの更新通知が出たら、業務に支障がない範囲で早めに適用するのがよい。", True,
     "更新の多くは脆弱性の修正を含みます。放置すると攻撃に悪用されます。"),
    (QuestionKind.SINGLE, "情報の持ち出し", "自宅で作業するため、顧客名簿を持ち帰りたいとき、正しい対応はどれですか。",
     "*会社の定めた手続きで許可を得て、会社が認めた方法で扱う\n私物の USB メモリーにコピーする\n"
     "個人のメールアドレスに送る\n個人のクラウドストレージに保存する",
     "個人情報の持ち出しはルールに従って許可を得るのが原則です。私物の媒体やサービスは使いません。"),
    (QuestionKind.MULTIPLE, "端末", "会社のノートパソコンを安全に使うための行動をすべて選んでください。",
     "*席を離れるときは画面をロックする\n*電車の網棚など目の届かない場所に置かない\n"
     "*紛失に気づいたらすぐ会社に報告する\n家族と共用して便利に使う",
     "画面ロック、盗難・紛失の防止と即時報告が基本です。会社の端末は業務専用です。"),
    (QuestionKind.TRUE_FALSE, "端末", "カフェの無料 Wi-Fi でも、会社が指定した VPN を使えば業務システムに接続してよい（会社のルールで認められている場合）。",
     True, "公衆無線 LAN は盗聴のおそれがあります。会社の定めた VPN 経由なら通信が保護されます。"),
    (QuestionKind.SINGLE, "SNS", "SNS への投稿として問題がないものはどれですか。",
     "*公開済みの自社のプレスリリースを紹介する\n社内の会議室のホワイトボードを写した写真\n"
     "来週発表予定の新製品の情報\n取引先から聞いた話を匿名で書く",
     "写真の背景や未公開情報から情報が漏れることがあります。公開済みの情報だけを扱いましょう。"),
    (QuestionKind.SINGLE, "ソーシャルエンジニアリング", "「システム部の者です。確認のためパスワードを教えてください」と電話がありました。正しい対応はどれですか。",
     "*教えずに電話を切り、社内の正規の窓口に確認する\n相手が社内の人なら教えてよい\n"
     "一部だけ伝えて様子を見る\nメールで送るなら問題ない",
     "正規の担当者がパスワードを聞くことはありません。なりすましの典型的な手口です。"),
    (QuestionKind.TRUE_FALSE, "物理セキュリティ", "社員証を持たない人が後ろについて入館しようとしたら、声をかけて受付に案内する。", True,
     "共連れ（ピギーバック）は不正侵入の手口です。丁寧に声をかけるのが正しい対応です。"),
    (QuestionKind.MULTIPLE, "個人情報", "個人情報に当たるものをすべて選んでください。",
     "*氏名と勤務先の組み合わせ\n*顔がはっきり写った写真\n*個人を特定できるメールアドレス（taro.yamada@example.co.jp など）\n"
     "公表されている会社全体の売上高",
     "特定の個人を識別できる情報が個人情報です。会社の統計情報は当たりません。"),
    (QuestionKind.SINGLE, "個人情報", "誤って別の顧客にメールで個人情報を送ってしまいました。最初にすべきことはどれですか。",
     "*すぐに上司と個人情報の担当部署に報告し、指示に従う\n相手に削除をお願いして、誰にも言わない\n"
     "送信を取り消せるか何度も試してから報告する\n同じメールをもう一度正しい相手に送るだけでよい",
     "漏えいは報告が遅れるほど対応が難しくなります。隠さずにすぐ報告しましょう。"),
    (QuestionKind.SINGLE, "ランサムウェア", "ランサムウェアへの備えとして最も効果的なのはどれですか。",
     "*重要なデータを定期的にバックアップし、ネットワークから切り離した場所にも保管する\n"
     "身代金を払うための予算を用意しておく\nファイル名を英語にしておく\nパソコンの電源を入れっぱなしにする",
     "バックアップがあれば復旧できます。身代金を払ってもデータが戻る保証はありません。"),
    (QuestionKind.TRUE_FALSE, "ランサムウェア", "画面に脅迫文が表示されたら、まず端末をネットワークから切り離し、電源は切らずに報告する。", True,
     "感染の拡大を止めつつ、調査に必要な情報を残すため、電源を切らずに報告するのが一般的な初動です。"),
    (QuestionKind.MULTIPLE, "クラウド", "クラウドで共有リンクを作るときに気をつけることをすべて選んでください。",
     "*「リンクを知っている全員」ではなく、必要な人だけに共有する\n*有効期限を設定する\n"
     "*共有が不要になったら解除する\n共有リンクは推測されないので、公開範囲は気にしなくてよい",
     "共有リンクは転送や誤送信で広がります。範囲と期限を絞り、不要になったら解除します。"),
    (QuestionKind.SINGLE, "USB", "駐車場で社名入りの USB メモリーを拾いました。正しい対応はどれですか。",
     "*自分のパソコンには挿さず、情報システム担当に届ける\n持ち主を探すために自分のパソコンで中身を見る\n"
     "初期化して自分で使う\nそのまま捨てる",
     "不審な USB メモリーには不正なプログラムが入っていることがあります。絶対に挿さないでください。"),
]


def seed_demo_course() -> tuple[Course, bool]:
    """The global demo course with its lessons and questions; (course, created)."""
    course = db.session.scalar(
        select(Course).where(Course.title == DEMO_COURSE_TITLE, Course.fiscal_year == DEMO_FISCAL_YEAR,
                             Course.organization_id.is_(None))
    )
    if course is not None:
        return course, False
    course = Course(
        organization_id=None, title=DEMO_COURSE_TITLE, fiscal_year=DEMO_FISCAL_YEAR, kind=CourseKind.ANNUAL,
        description="パスワード、メール、情報の持ち出し、個人情報など、業務で必要な情報セキュリティの基本を学びます。",
        pass_mark=100, questions_per_attempt=10,
    )
    db.session.add(course)
    db.session.flush()
    for position, (title, body) in enumerate(LESSONS, start=1):
        db.session.add(Lesson(course_id=course.id, position=position, title=title, body_md=body))
    for kind, category, text, choices, explanation in QUESTIONS:
        parsed = true_false_choices(choices) if kind == QuestionKind.TRUE_FALSE else parse_choice_lines(choices)
        save_question(course, None, kind=kind, text=text, explanation=explanation, category=category, choices=parsed)
    db.session.flush()
    return course, True
