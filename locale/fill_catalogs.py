# ruff: noqa: E501  (a table of translations: long lines are the strings themselves)
"""Fill the vi and en catalogs after `makemessages`.

Source strings are English in the web centre (web/, templates/) and Vietnamese in the models of
the other apps. VI maps English → Vietnamese, EN maps Vietnamese → English; a string in one
table is its own translation in the other language. Run:
    .venv/bin/python locale/fill_catalogs.py && .venv/bin/python manage.py compilemessages
Prints every msgid it has no translation for (exit 1), so a catalog is never silently partial.
"""

import sys
from pathlib import Path

import polib

HERE = Path(__file__).resolve().parent

VI = {
    # --- layout, sign-in ---
    "Dispute resolution centre": "Trung tâm giải quyết tranh chấp",
    "Skip to content": "Bỏ qua, đến nội dung",
    "Main": "Chính",
    "New complaint": "Khiếu nại mới",
    "Statistics": "Thống kê",
    "Unread notifications": "Thông báo chưa đọc",
    "Sign out": "Đăng xuất",
    "Sign in": "Đăng nhập",
    "Online dispute resolution centre of Quảng Ninh province — for buyers and sellers of the OCOP "
    "marketplace, Shopee, Lazada and Tiki.":
        "Trung tâm giải quyết tranh chấp trực tuyến tỉnh Quảng Ninh — dành cho người mua và người bán "
        "trên sàn OCOP, Shopee, Lazada và Tiki.",
    "Use the account of the dispute resolution centre, or the one your marketplace gave you.":
        "Dùng tài khoản của trung tâm giải quyết tranh chấp hoặc tài khoản sàn thương mại cấp cho bạn.",
    "The username or password is wrong. Both are case-sensitive.":
        "Tên đăng nhập hoặc mật khẩu không đúng. Phân biệt chữ hoa, chữ thường.",
    "Username": "Tên đăng nhập",
    "Password": "Mật khẩu",
    # --- list ---
    "Cases": "Vụ việc",
    "Dispute inbox": "Hộp khiếu nại",
    "Mediation queue": "Hàng chờ hòa giải",
    "Supervision": "Giám sát",
    "My complaints": "Khiếu nại của tôi",
    "File a complaint": "Gửi khiếu nại",
    "Queues": "Hàng chờ",
    "Open queue": "Chưa có người nhận",
    "Open": "Đang mở",
    "Mine": "Của tôi",
    "Unassigned": "Chưa phân công",
    "SLA breaches": "Quá hạn xử lý",
    "Appeals": "Khiếu nại lại",
    "All": "Tất cả",
    "Search and filters": "Tìm kiếm và lọc",
    "Sort by": "Sắp xếp theo",
    "Newest": "Mới nhất",
    "Apply": "Áp dụng",
    "Unread chat messages": "Tin nhắn chưa đọc",
    "unread messages": "tin nhắn chưa đọc",
    "SLA breached": "Quá hạn xử lý",
    "order": "đơn",
    "Pages": "Trang",
    "Previous": "Trước",
    "Page %(n)s of %(total)s": "Trang %(n)s / %(total)s",
    "Next": "Sau",
    "No cases here.": "Không có vụ việc nào.",
    "File a complaint about an order": "Gửi khiếu nại về một đơn hàng",
    "Search": "Tìm kiếm",
    "State": "Trạng thái",
    "Reason": "Lý do",
    "Marketplace": "Sàn",
    "overdue": "quá hạn",
    ("%(n)d hour left", "%(n)d hours left"): "còn %(n)d giờ",
    ("%(n)s minute", "%(n)s minutes"): "%(n)s phút",
    "%(n)s h": "%(n)s giờ",
    "%(n)s days": "%(n)s ngày",
    ("%(n)d working day left", "%(n)d working days left"): "còn %(n)d ngày làm việc",
    # --- filing ---
    "The seller has 3 working days to answer. The amount you claim is held by the payment partner "
    "until the case ends.":
        "Người bán có 3 ngày làm việc để trả lời. Số tiền bạn yêu cầu được đối tác thanh toán tạm giữ "
        "cho đến khi vụ việc kết thúc.",
    "We have no orders of yours from the marketplaces yet.":
        "Chúng tôi chưa nhận được đơn hàng nào của bạn từ các sàn.",
    "Which order?": "Đơn hàng nào?",
    "A complaint about this order is already open.": "Đơn hàng này đang có khiếu nại chưa kết thúc.",
    "What happened?": "Đã xảy ra chuyện gì?",
    "What would you like?": "Bạn muốn giải quyết thế nào?",
    "Send the complaint": "Gửi khiếu nại",
    "Your request": "Yêu cầu của bạn",
    "Not found": "Không tìm thấy",
    "no mediator yet": "chưa có hòa giải viên",
    "Mediators": "Hòa giải viên",
    "Cases filed per week": "Số vụ việc theo tuần",
    "Week of %(w)s: %(f)s filed, %(r)s resolved": "Tuần %(w)s: %(f)s vụ gửi, %(r)s đã giải quyết",
    "filed": "đã gửi",
    "of which resolved": "trong đó đã giải quyết",
    "Notifications": "Thông báo",
    "unread": "chưa đọc",
    "Mark all as read": "Đánh dấu đã đọc tất cả",
    "Loading…": "Đang tải…",
    "No notifications yet.": "Chưa có thông báo.",
    "Active": "Đang xử lý",
    "Capacity": "Tối đa",
    "Decided": "Đã quyết định",
    "Late": "Quá hạn",
    "Languages": "Ngôn ngữ",
    "Assign from a case's page: “Assign a mediator”.": "Phân công từ trang vụ việc: “Phân công hòa giải viên”.",
    "The deciding mediator stays on a decided case.": "Hòa giải viên đã ra quyết định phải tiếp tục phụ trách vụ việc.",
    "The case is already assigned to this mediator.": "Vụ việc đã được giao cho hòa giải viên này.",
    "%(name)s — %(active)s active of %(capacity)s": "%(name)s — đang xử lý %(active)s/%(capacity)s",
    "away": "vắng mặt",
    "Requested evidence": "Bằng chứng được yêu cầu",
    "From the buyer": "Từ người mua",
    "From the seller": "Từ người bán",
    "by %(when)s": "trước %(when)s",
    "provided": "đã cung cấp",
    "cancelled request": "đã hủy yêu cầu",
    "Upload it with “Add evidence”.": "Tải lên bằng nút “Bổ sung bằng chứng”.",
    "This page does not exist, or it belongs to a case you are not part of.":
        "Trang này không tồn tại, hoặc thuộc về một vụ việc bạn không tham gia.",
    "Back to your cases": "Về danh sách vụ việc",
    "Not allowed": "Không có quyền truy cập",
    "This page is for the centre's supervisors.": "Trang này dành cho giám sát viên của trung tâm.",
    "For your safety the browser does not keep chosen files after an error: please choose your photos "
    "again.":
        "Vì an toàn, trình duyệt không giữ tệp đã chọn khi có lỗi: vui lòng chọn lại ảnh của bạn.",
    "You paid {amount} ₫ for this order: you can claim up to that.":
        "Bạn đã trả {amount} ₫ cho đơn này: có thể yêu cầu tối đa số tiền đó.",
    "“%(name)s” is too large; at most %(max)d MB per file.":
        "“%(name)s” quá lớn; tối đa %(max)d MB mỗi tệp.",
    "At most 10 files at a time.": "Tối đa 10 tệp mỗi lần.",
    "Choose the order.": "Vui lòng chọn đơn hàng.",
    "What went wrong?": "Vấn đề là gì?",
    "Amount you claim (₫)": "Số tiền yêu cầu (₫)",
    "The amount must be greater than 0.": "Số tiền phải lớn hơn 0.",
    "Enter the amount in đồng, digits only.": "Nhập số tiền bằng đồng, chỉ gồm chữ số.",
    "Describe the problem": "Mô tả vấn đề",
    "What you received, when, and what is wrong. Be specific: it helps the seller and the mediator.":
        "Bạn nhận được gì, khi nào, và sai ở đâu. Càng cụ thể càng giúp người bán và hòa giải viên.",
    "Photos, video or documents": "Ảnh, video hoặc tài liệu",
    "JPEG, PNG, WebP, GIF, PDF, MP4, MOV or WebM; up to 20 MB each.":
        "JPEG, PNG, WebP, GIF, PDF, MP4, MOV hoặc WebM; tối đa 20 MB mỗi tệp.",
    "At most what you paid: %(n)s ₫.": "Tối đa bằng số tiền bạn đã trả: %(n)s ₫.",
    "Please describe the problem.": "Vui lòng mô tả vấn đề.",
    "Your complaint %(ref)s was filed. The seller has been asked to answer.":
        "Đã gửi khiếu nại %(ref)s. Người bán đã được yêu cầu trả lời.",
    # --- case page ---
    "All cases": "Tất cả vụ việc",
    "claim": "yêu cầu",
    "Buyer": "Người mua",
    "Extra working days": "Số ngày làm việc xin thêm",
    "Why do you need more time?": "Vì sao bạn cần thêm thời gian?",
    "Grant more time": "Đồng ý gia hạn",
    "Refuse": "Từ chối",
    "From whom": "Yêu cầu ai",
    "What evidence is needed?": "Cần bổ sung bằng chứng gì?",
    "Please say what is needed.": "Vui lòng nêu rõ cần bổ sung gì.",
    "Working days to answer": "Số ngày làm việc để trả lời",
    "Ask for more time": "Xin gia hạn",
    "Decide on the request for more time": "Trả lời yêu cầu gia hạn",
    "Request evidence": "Yêu cầu bổ sung bằng chứng",
    "Seller": "Người bán",
    "Mediator": "Hòa giải viên",
    "Supervisor": "Giám sát viên",
    "ODR system": "Hệ thống ODR",
    "Filed": "Ngày gửi",
    "Deadline": "Hạn",
    "Outcome": "Kết quả",
    "refund": "hoàn",
    "Your turn:": "Đến lượt bạn:",
    "accept the claim, make an offer or contest it with evidence before the deadline. If you do not "
    "answer, the buyer gets the refund.":
        "chấp nhận yêu cầu, đưa ra đề nghị hoặc phản đối kèm bằng chứng trước hạn. Nếu bạn không trả "
        "lời, người mua được hoàn tiền.",
    "Waiting for the seller's answer. If the seller does not answer in time, you get the refund "
    "automatically.":
        "Đang chờ người bán trả lời. Nếu người bán không trả lời đúng hạn, bạn được hoàn tiền tự động.",
    "accept the seller's answer, make a counter-offer, or ask the centre to mediate.":
        "chấp nhận câu trả lời của người bán, đưa ra đề nghị khác, hoặc đề nghị trung tâm hòa giải.",
    "Waiting for the buyer's answer.": "Đang chờ người mua trả lời.",
    "send the item back and register the tracking number.": "gửi trả hàng và khai báo mã vận đơn.",
    "When the item arrives, confirm it or dispute it.":
        "Khi nhận được hàng hoàn, hãy xác nhận hoặc khiếu nại về hàng hoàn.",
    "Waiting for the return.": "Đang chờ hoàn hàng.",
    "A mediator of the centre is handling the case.": "Hòa giải viên của trung tâm đang xử lý vụ việc.",
    "Waiting for a mediator to take the case.": "Đang chờ hòa giải viên nhận vụ việc.",
    "The mediator has decided. Either party may appeal before the deadline.":
        "Hòa giải viên đã quyết định. Mỗi bên có thể khiếu nại lại trước hạn.",
    "A supervisor is reviewing the decision.": "Giám sát viên đang xem xét lại quyết định.",
    "The case is resolved; the payment partner is carrying out the money instructions.":
        "Vụ việc đã được giải quyết; đối tác thanh toán đang thực hiện lệnh chuyển tiền.",
    "The case is closed.": "Vụ việc đã đóng.",
    "Money instructions to the payment partner": "Lệnh chuyển tiền gửi đối tác thanh toán",
    "Pin": "Ghim",
    "Unpin": "Bỏ ghim",
    "Remove": "Gỡ",
    "Why remove this message? (kept for the audit)": "Vì sao gỡ tin nhắn này? (vẫn lưu để đối soát)",
    "Download the dossier (PDF)": "Tải hồ sơ vụ việc (PDF)",
    "Settlement proposed by the mediator": "Phương án hòa giải của hòa giải viên",
    "The seller's offer": "Đề nghị của người bán",
    "The buyer's counter-offer": "Đề nghị của người mua",
    "Accepted by:": "Đã chấp nhận:",
    "buyer": "người mua",
    "seller": "người bán",
    "What you can do": "Bạn có thể làm gì",
    "Take the case": "Nhận vụ việc",
    "Withdraw": "Rút yêu cầu",
    "Confirm": "Xác nhận",
    "Order": "Đơn hàng",
    "Items": "Sản phẩm",
    "Item": "Sản phẩm",
    "Qty": "SL",
    "Amount": "Thành tiền",
    "Total": "Tổng cộng",
    "Placed": "Đặt lúc",
    "delivered": "đã giao",
    "Payment": "Thanh toán",
    "Partner": "Đối tác",
    "Transaction": "Mã giao dịch",
    "Paid": "Đã trả",
    "Held / released / refunded": "Tạm giữ / giải ngân / hoàn",
    "The complaint": "Nội dung khiếu nại",
    "Evidence": "Bằng chứng",
    "No evidence yet.": "Chưa có bằng chứng.",
    "Offers": "Các đề nghị",
    "Decision": "Quyết định",
    "Appeal until": "Khiếu nại lại đến",
    "Appeal": "Khiếu nại lại",
    "Under review": "Đang xem xét",
    "Timeline": "Diễn biến",
    "optional": "không bắt buộc",
    "Shipment": "Vận đơn",
    "Return shipment": "Vận đơn hoàn hàng",
    "Delivery": "Giao hàng",
    "Tracking": "Mã vận đơn",
    "Proof of delivery": "Bằng chứng giao hàng",
    "No tracking events yet.": "Chưa có thông tin hành trình.",
    "Done: %(action)s.": "Đã thực hiện: %(action)s.",
    # --- chat ---
    "Chat": "Trao đổi",
    "Connecting…": "Đang kết nối…",
    "Messages": "Tin nhắn",
    "To": "Gửi đến",
    "Both parties": "Cả hai bên",
    "Buyer only (private caucus)": "Riêng người mua (trao đổi riêng)",
    "Seller only (private caucus)": "Riêng người bán (trao đổi riêng)",
    "Message": "Tin nhắn",
    "Write a message…": "Viết tin nhắn…",
    "Send": "Gửi",
    "You": "Bạn",
    "private": "riêng",
    "Connected": "Đã kết nối",
    "Chat is not available right now. Your case is not affected; try again later.":
        "Hiện chưa trao đổi được. Vụ việc của bạn không bị ảnh hưởng; vui lòng thử lại sau.",
    "Reconnecting…": "Đang kết nối lại…",
    "is typing…": "đang soạn tin…",
    "Online:": "Đang trực tuyến:",
    "message removed": "tin nhắn đã bị gỡ",
    "The case was updated.": "Vụ việc vừa được cập nhật.",
    "Chat is closed for this case.": "Đã đóng trao đổi cho vụ việc này.",
    "pinned": "đã ghim",
    # --- action forms ---
    "Comment (optional)": "Ghi chú (không bắt buộc)",
    "Why?": "Lý do?",
    "Please give a reason.": "Vui lòng nêu lý do.",
    "Proposal": "Phương án",
    "Amount (₫)": "Số tiền (₫)",
    "Enter an amount from 1 to %(n)s ₫ (the disputed amount).":
        "Nhập số tiền từ 1 đến %(n)s ₫ (số tiền đang tranh chấp).",
    "Why do you reject the claim?": "Vì sao bạn không chấp nhận yêu cầu?",
    "Your evidence (photos of the packed item, delivery proof…)":
        "Bằng chứng của bạn (ảnh đóng gói, chứng từ giao hàng…)",
    "Evidence already uploaded": "Bằng chứng đã tải lên",
    "Contesting needs at least one piece of your own evidence.":
        "Phản đối cần ít nhất một bằng chứng do bạn tải lên.",
    "Carrier": "Đơn vị vận chuyển",
    "Tracking number": "Mã vận đơn",
    "Enter the tracking number.": "Vui lòng nhập mã vận đơn.",
    "Note (optional)": "Ghi chú (không bắt buộc)",
    "Refund to the buyer (₫), for a partial refund": "Số tiền hoàn cho người mua (₫), nếu hoàn một phần",
    "Reasons": "Lý do",
    "A decision must give its reasons.": "Quyết định phải nêu lý do.",
    "Grounds of appeal": "Căn cứ khiếu nại lại",
    "Please state your grounds.": "Vui lòng nêu căn cứ.",
    "Files": "Tệp",
    "What does it show? (optional)": "Tệp thể hiện điều gì? (không bắt buộc)",
    "Choose at least one file.": "Vui lòng chọn ít nhất một tệp.",
    # --- action labels ---
    "Complaint filed": "Gửi khiếu nại",
    "Accept the claim": "Chấp nhận yêu cầu",
    "Make an offer": "Đưa ra đề nghị",
    "Contest with evidence": "Phản đối kèm bằng chứng",
    "Accept the offer": "Chấp nhận đề nghị",
    "Counter-offer": "Đề nghị khác",
    "Ask the centre to mediate": "Đề nghị trung tâm hòa giải",
    "Withdraw the complaint": "Rút khiếu nại",
    "Register the return shipment": "Khai báo vận đơn hoàn hàng",
    "Return delivered": "Hàng hoàn đã giao",
    "Confirm the returned item": "Xác nhận đã nhận hàng hoàn",
    "Dispute the returned item": "Khiếu nại về hàng hoàn",
    "Take this case": "Nhận vụ việc này",
    "Assign a mediator": "Phân công hòa giải viên",
    "Propose a settlement": "Đề xuất phương án hòa giải",
    "Accept the settlement": "Chấp nhận phương án hòa giải",
    "Settlement accepted by one party": "Một bên đã chấp nhận phương án hòa giải",
    "Decide": "Ra quyết định",
    "Appeal the decision": "Khiếu nại lại quyết định",
    "Uphold the decision": "Giữ nguyên quyết định",
    "Overturn the decision": "Thay đổi quyết định",
    "Add evidence": "Bổ sung bằng chứng",
    "Evidence added": "Đã bổ sung bằng chứng",
    "Seller's deadline passed": "Người bán quá hạn trả lời",
    "Buyer's deadline passed": "Người mua quá hạn trả lời",
    "Return deadline passed": "Quá hạn hoàn hàng",
    "Appeal window passed": "Hết thời hạn khiếu nại lại",
    "Handling deadline missed": "Quá hạn xử lý",
    "Closed": "Đã đóng",
    "Extension requested": "Xin gia hạn",
    "Extension decided": "Đã quyết định gia hạn",
    "Extension granted": "Đã chấp thuận gia hạn",
    "Extension refused": "Đã từ chối gia hạn",
    "Extension request lapsed": "Yêu cầu gia hạn hết hiệu lực",
    "Evidence requested": "Yêu cầu bổ sung bằng chứng",
    "Requested evidence provided": "Đã cung cấp bằng chứng được yêu cầu",
    "Proof of delivery received": "Đã nhận bằng chứng giao hàng",
    "Payment partner confirmed the money transfer": "Đối tác thanh toán đã xác nhận chuyển tiền",
    "Money transfer failed — being handled": "Chuyển tiền thất bại — đang được xử lý",
    "Money transfer retried": "Đã gửi lại lệnh chuyển tiền",
    "Money transfer cancelled": "Đã hủy lệnh chuyển tiền",
    "Partner confirmed a cancelled transfer": "Đối tác xác nhận một lệnh đã hủy",
    "Chargeback opened": "Phát sinh yêu cầu bồi hoàn (chargeback)",
    "Money transfer blocked by a chargeback": "Lệnh chuyển tiền bị chặn do bồi hoàn",
    "Money transfer cancelled by a chargeback": "Lệnh chuyển tiền bị hủy do bồi hoàn",
    "pending": "đang chờ",
    "pending (partner received it)": "đang chờ (đối tác đã nhận lệnh)",
    "done": "đã thực hiện",
    "failed — being handled": "thất bại — đang được xử lý",
    "cancelled": "đã hủy",
    # --- service messages with numbers; generic errors ---
    "The amount exceeds what was paid (%(n)s ₫).": "Số tiền yêu cầu vượt quá số đã thanh toán (%(n)s ₫).",
    "The amount must be between 1 and %(n)s ₫ (the disputed amount).":
        "Số tiền phải từ 1 đến %(n)s ₫ (số tiền đang tranh chấp).",
    "The file is too large (%(size)s bytes); at most %(max)s MB.":
        "Tệp quá lớn (%(size)s byte); tối đa %(max)s MB.",
    "A 'not received' complaint can be filed from %(when)s.":
        "Chỉ có thể khiếu nại 'không nhận được hàng' từ %(when)s.",
    "The time to complain has passed (%(n)s days after delivery).":
        "Đã hết thời hạn khiếu nại (%(n)s ngày sau khi nhận hàng).",
    "This order already has an open complaint.": "Đơn hàng này đã có khiếu nại đang xử lý.",
    "This action is no longer possible: the case has moved on. The page shows what you can do now.":
        "Không thể thực hiện thao tác này nữa: vụ việc đã thay đổi. Trang hiển thị những việc bạn "
        "có thể làm bây giờ.",
    "Someone changed the case at the same time; please try again.":
        "Có người vừa thay đổi vụ việc cùng lúc; vui lòng thử lại.",
    "Not found.": "Không tìm thấy.",
    "The request could not be carried out: %(detail)s": "Không thực hiện được yêu cầu: %(detail)s",
    # --- statistics ---
    "Statistics for the authority": "Thống kê cho cơ quan quản lý",
    "Show": "Xem",
    "Cases filed from %(a)s to %(b)s.": "Các vụ việc gửi từ %(a)s đến %(b)s.",
    "Cases filed": "Số vụ việc",
    "Resolved": "Đã giải quyết",
    "Median time to resolution": "Thời gian giải quyết (trung vị)",
    "90th percentile": "Phân vị 90",
    "Resolved within %(n)s working days": "Giải quyết trong %(n)s ngày làm việc",
    "Cases by reason": "Vụ việc theo lý do",
    "Cases by marketplace": "Vụ việc theo sàn",
    "Cases by carrier": "Vụ việc theo đơn vị vận chuyển",
    "Outcomes": "Kết quả giải quyết",
    "Sellers with the most cases": "Người bán có nhiều vụ việc nhất",
    "Orders": "Đơn hàng",
    "Dispute rate": "Tỷ lệ khiếu nại",
    "Dispute rate = cases filed ÷ orders placed in the period. The bar is full at one case per five "
    "orders.":
        "Tỷ lệ khiếu nại = số vụ việc ÷ số đơn hàng trong kỳ. Thanh đầy khi cứ năm đơn có một vụ việc.",
    "Share": "Tỷ lệ",
    "No cases in this period.": "Không có vụ việc nào trong kỳ.",
    "From": "Từ ngày",
    "To date": "Đến ngày",
    "The end date is before the start date.": "Ngày kết thúc trước ngày bắt đầu.",
    # --- dossier ---
    "Case dossier %(ref)s": "Hồ sơ vụ việc %(ref)s",
    "Online dispute resolution centre — Quảng Ninh": "Trung tâm giải quyết tranh chấp trực tuyến — Quảng Ninh",
    "Dossier for referral to the Department of Industry and Trade of Quảng Ninh (Sở Công Thương "
    "Quảng Ninh). Generated %(when)s by %(who)s.":
        "Hồ sơ chuyển Sở Công Thương Quảng Ninh. Lập lúc %(when)s bởi %(who)s.",
    "1. The case": "1. Vụ việc",
    "Reference": "Mã vụ việc",
    "Buyer asks for": "Người mua yêu cầu",
    "Amount claimed": "Số tiền yêu cầu",
    "Description": "Mô tả",
    "2. Records": "2. Dữ liệu giao dịch",
    "Escrow": "Tạm giữ tiền",
    "3. Evidence (SHA-256 fingerprints)": "3. Bằng chứng (mã băm SHA-256)",
    "No evidence.": "Không có bằng chứng.",
    "4. Offers, decisions and appeals": "4. Đề nghị, quyết định và khiếu nại lại",
    "5. Timeline": "5. Diễn biến",
    "6. Mediation chat": "6. Trao đổi hòa giải",
    "No chat messages.": "Không có tin nhắn.",
    "private with": "riêng với",
    "removed": "đã gỡ",
    # --- strings of other apps written in English ---
    "VND, at most what was paid": "VND, tối đa bằng số đã thanh toán",
    "VND": "VND",
    "QR": "QR",
    "Mobile Money": "Mobile Money",
    "Partner's transaction id": "Mã giao dịch của đối tác",
    "Policy overrides": "Chính sách riêng",
    "English": "English",
}

EN = {
    "Vụ việc": "Cases",
    "Người bán": "Seller", "Người mua": "Buyer", "Hòa giải viên": "Mediator",
    "Đang chờ": "Open", "Đã chấp nhận": "Accepted", "Đã thay thế": "Superseded", "Bị từ chối": "Rejected",
    "Giữ nguyên": "Upheld", "Thay đổi quyết định": "Overturned",
    "Chờ người bán trả lời": "Awaiting the seller", "Chờ người mua trả lời": "Awaiting the buyer",
    "Chờ hoàn hàng": "Awaiting the return", "Đang hòa giải": "In mediation",
    "Đã có quyết định": "Decided", "Đang khiếu nại lại": "Under appeal",
    "Đã giải quyết": "Resolved", "Đã đóng": "Closed",
    "Không nhận được hàng": "Item not received", "Hàng không đúng mô tả": "Not as described",
    "Hàng bị hư hỏng": "Damaged", "Giao sai hàng": "Wrong item",
    "Thiếu phụ kiện, bộ phận": "Missing parts", "Hàng giả, hàng nhái": "Counterfeit",
    "Giao dịch không được phép": "Unauthorised payment", "Bị trừ tiền hai lần": "Charged twice",
    "Chưa được hoàn tiền": "Refund not processed", "Lý do khác": "Other",
    "Hoàn tiền toàn bộ": "Full refund", "Hoàn tiền một phần": "Partial refund",
    "Trả hàng và hoàn tiền": "Return and refund", "Đổi hàng mới": "Replacement",
    "Có lợi cho người bán": "In the seller's favour", "Người mua rút yêu cầu": "Withdrawn by the buyer",
    "Trước hạn 24 giờ": "24 hours before", "Trước hạn 1 giờ": "1 hour before",
    "Chờ quyết định": "Awaiting decision", "Đã chấp thuận": "Granted", "Hết hiệu lực": "Lapsed",
    "Ví điện tử": "E-wallet", "Thẻ": "Card", "Chuyển khoản": "Bank transfer",
    "Thu hộ (COD)": "Cash on delivery (COD)",
    "Giao hàng": "Delivery", "Hoàn hàng": "Return",
    "Đã tạo": "Created", "Đã lấy hàng": "Picked up", "Đang vận chuyển": "In transit",
    "Đã giao": "Delivered", "Giao thất bại": "Delivery failed", "Đã hoàn về": "Returned to sender",
    "Tạm giữ": "Hold", "Giải ngân cho người bán": "Release to the seller",
    "Hoàn tiền cho người mua": "Refund to the buyer",
    "Chờ gửi": "Waiting to be sent", "Đối tác đã nhận, chờ xác nhận": "Received by the partner, awaiting confirmation",
    "Đã xác nhận": "Confirmed", "Thất bại, cần xử lý": "Failed, needs attention", "Đã hủy": "Cancelled",
    "Đã nhận, chờ xác nhận": "Received, awaiting confirmation",
    "Lỗi tạm thời, sẽ thử lại": "Temporary error, will retry", "Lỗi cuối cùng": "Final error",
    "Tin nhắn": "Message", "Thông báo hệ thống": "System notice", "Tệp đính kèm": "Attachment",
    "Tất cả các bên": "All parties", "Riêng với người mua": "Private with the buyer",
    "Riêng với người bán": "Private with the seller",
    "Tiếng Việt": "Tiếng Việt", "Tiếng Tày": "Tày", "Tiếng Dao": "Dao", "Tiếng Sán Dìu": "San Diu",
    "Tiếng Sán Chay": "San Chay", "Tiếng Hoa": "Chinese",
    "Số vụ đang hòa giải tối đa": "Maximum cases in mediation at once",
    "Sàn thương mại điện tử": "Marketplace", "Đơn vị vận chuyển": "Carrier",
    "Đối tác thanh toán": "Payment partner", "Đã xử lý": "Processed",
    # service field messages
    "Số tiền yêu cầu phải lớn hơn 0.": "The amount claimed must be greater than 0.",
    "Đơn hàng chưa được giao: chưa thể khiếu nại về chất lượng hàng.":
        "The order has not been delivered yet: you cannot complain about the item itself yet.",
    "Lý do không hợp lệ.": "Invalid reason.",
    "Yêu cầu không hợp lệ.": "Invalid request.",
    "Vui lòng mô tả vấn đề.": "Please describe the problem.",
    "Không tìm thấy đơn hàng.": "Order not found.",
    "Tệp rỗng.": "The file is empty.",
    "Chỉ nhận ảnh (JPEG, PNG, WebP, GIF), PDF hoặc video (MP4, MOV, WebM).":
        "Only images (JPEG, PNG, WebP, GIF), PDF or video (MP4, MOV, WebM) are accepted.",
    "Phương án không hợp lệ.": "Invalid proposal.",
    "Vui lòng nêu lý do.": "Please give a reason.",
    "Cần ít nhất một bằng chứng do người bán tải lên.":
        "At least one piece of evidence uploaded by the seller is needed.",
    "Đơn vị vận chuyển không hợp lệ.": "Unknown carrier.",
    "Bắt buộc.": "Required.",
    "Vui lòng nêu căn cứ.": "Please state your grounds.",
    "Người này không phải hòa giải viên.": "This person is not a mediator.",
    "Hòa giải viên có liên quan đến một bên.": "The mediator is connected to one of the parties.",
    "Kết quả không hợp lệ.": "Invalid outcome.",
    "Quyết định phải có lý do.": "A decision must give its reasons.",
    "Không tìm thấy.": "Not found.",
    "Vui lòng nêu lý do chuyển vụ việc.": "Please give the reason for moving the case.",
    "Hòa giải viên có xung đột lợi ích với vụ việc.": "The mediator has a conflict of interest in this case.",
}


def _fill(lang: str) -> list[str]:
    path = HERE / lang / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(path))
    po.metadata["Language"] = lang
    po.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    po.metadata["Plural-Forms"] = "nplurals=1; plural=0;" if lang == "vi" else "nplurals=2; plural=(n != 1);"
    missing = []
    for entry in [e for e in po if e.obsolete]:
        po.remove(entry)  # strings no longer in the code
    for entry in po:
        entry.flags = [f for f in entry.flags if f != "fuzzy"]
        key = (entry.msgid, entry.msgid_plural) if entry.msgid_plural else entry.msgid
        if entry.msgid_plural:
            vi = VI.get(key)
            if vi is None:
                missing.append(entry.msgid)
                continue
            entry.msgstr_plural = {0: vi} if lang == "vi" else {0: entry.msgid, 1: entry.msgid_plural}
            continue
        if entry.msgid in VI:
            entry.msgstr = VI[entry.msgid] if lang == "vi" else entry.msgid
        elif entry.msgid in EN:
            entry.msgstr = entry.msgid if lang == "vi" else EN[entry.msgid]
        else:
            missing.append(entry.msgid)
    po.save(str(path))
    return missing


if __name__ == "__main__":
    gaps = {lang: _fill(lang) for lang in ("vi", "en")}
    for lang, items in gaps.items():
        for msgid in items:
            print(f"[{lang}] missing: {msgid!r}")
    sys.exit(1 if any(gaps.values()) else 0)
