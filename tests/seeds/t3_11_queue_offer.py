# Seed tutorial 003, "使用Queue 代码示例一".  Unchanged.
#encoding=utf-8

from multiprocessing import Process, Queue

def offer(queue):
  "入队列"
  if queue.empty():
    queue.put("Hello World")
  else:
    print(queue.get())

if __name__ == '__main__':
  # 创建一个队列实例
  q = Queue()
  p = Process(target = offer, args = (q,))
  p.start()
  print(q.get())  # 出队列
  q.put("tester")

  m = Process(target = offer, args = (q,))
  m.start()
  p.join()
  m.join()
